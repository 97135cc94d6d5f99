package servercmd

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"ircish/ircish/server"
)

// parseFlags takes what is valid, and says what is not, with the status
// the command exits with.
func TestParseFlags(t *testing.T) {
	tests := []struct {
		args   string
		status int
		stderr string // a substring of what is said on stderr
		check  func(*config) bool
	}{
		{"", 0, "", func(c *config) bool { return c.addr == ":12000" && c.tlsConfig == nil }},
		{"-host 127.0.0.1 0", 0, "", func(c *config) bool { return c.addr == "127.0.0.1:0" }},
		{"-flood 0 -history 0", 0, "", func(c *config) bool { return c.srv.FloodRate == -1 && c.srv.Keep == -1 }},
		{"-flood 2 -history 7 -quiet", 0, "", func(c *config) bool { return c.srv.FloodRate == 2 && c.srv.Keep == 7 && c.quiet }},
		{"-h", 0, "usage: server [flags] [port]", nil},
		{"-bogus", 2, "flag provided but not defined: -bogus", nil},
		{"-1", 1, `invalid port "-1"`, nil},
		{"70000", 1, `invalid port "70000"`, nil},
		{"1 2", 1, "too many arguments", nil},
		{"-history -1", 1, "-history must not be negative", nil},
		{"-flood -1", 1, "-flood and -log-flush must not be negative", nil},
		{"-quiet -1", 1, `invalid port "-1"`, nil},
		{"-max-line 0", 1, "must be at least 1", nil},
		{"-ipv6-prefix 0", 1, "-ipv6-prefix must be from 1 to 128", nil},
		{"-ipv6-prefix 129", 1, "-ipv6-prefix must be from 1 to 128", nil},
		{"-ipv6-prefix 48", 0, "", func(c *config) bool { return c.srv.IPv6Prefix == 48 }},
		{"-write-timeout 0s", 1, "timeouts must be positive", nil},
		{"-tls-cert cert.pem", 1, "-tls-cert and -tls-key go together", nil},
		{"-web-origins a.example,*.b.example:8443", 0, "", func(c *config) bool {
			return slices.Equal(c.srv.WebOrigins, []string{"a.example", "*.b.example:8443"})
		}},
		{"-web-origins [", 2, `bad pattern "["`, nil},
		{"-web=false", 0, "", func(c *config) bool { return c.srv.NoWeb }},
		{"", 0, "", func(c *config) bool {
			return c.storePath == "ircish.db" && c.storeFlush == 100*time.Millisecond && c.srv.Keep == 10000
		}},
		{"-store none", 0, "", func(c *config) bool { return c.storePath == "" && c.srv.Keep == server.DefaultKeep }},
		{"-store x.db -store-flush 0 -history 5", 0, "", func(c *config) bool { return c.storePath == "x.db" && c.storeFlush == 0 && c.srv.Keep == 5 }},
		{"-history 0", 0, "", func(c *config) bool { return c.storePath == "" && c.srv.Keep == -1 }},
		{"-nats nats://h", 0, "", func(c *config) bool { return c.storePath == "" && c.srv.Keep == server.DefaultKeep }},
		{"-nats nats://h -store none", 0, "", func(c *config) bool { return c.storePath == "" }},
		{"-nats nats://h -store x.db", 1, "-store goes without -nats", nil},
		{"-store-flush -1s", 1, "-store-flush must not be negative", nil},
		{"-history x", 2, `invalid value "x" for flag -history`, nil},
		{"-tls-cert missing.pem -tls-key missing.pem", 1, "cannot load TLS certificate", nil},
	}
	for _, c := range tests {
		var stderr bytes.Buffer
		cfg, status := parseFlags(strings.Fields(c.args), &stderr)
		switch {
		case status != c.status || (cfg == nil) != (c.check == nil):
			t.Errorf("parseFlags(%q) = %v, %d; want a config: %v, status %d (stderr %q)", c.args, cfg, status, c.check != nil, c.status, stderr.String())
		case !strings.Contains(stderr.String(), c.stderr):
			t.Errorf("parseFlags(%q) said %q, want it to say %q", c.args, stderr.String(), c.stderr)
		case c.check != nil && !c.check(cfg):
			t.Errorf("parseFlags(%q) = %+v, not what was asked for", c.args, cfg)
		}
	}
}

// listen opens what it is asked to, and says why it cannot.
func TestListenOnAPortInUse(t *testing.T) {
	cfg, _ := parseFlags([]string{"-host", "127.0.0.1", "-debug-addr", "127.0.0.1:0", "0"}, &bytes.Buffer{})
	ls, err := listen(cfg)
	if err != nil {
		t.Fatalf("listen on free ports: %v", err)
	}
	defer ls.close()
	if ls.debug == nil || len(ls.chat) != 1 {
		t.Fatalf("listen opened %d chat listeners and debug %v, want 1 and one", len(ls.chat), ls.debug)
	}
	cfg.addr = ls.chat[0].Addr().String()
	if _, err := listen(cfg); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("listen on a port in use: %v, want it to say the address is in use", err)
	}
}
