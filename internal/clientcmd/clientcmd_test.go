package clientcmd

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args       []string
		tls        bool
		nick, addr string
		err        string
	}{
		{[]string{"duck"}, false, "duck", "127.0.0.1:12000", ""},
		{[]string{"duck"}, true, "duck", "127.0.0.1:12443", ""},
		{[]string{"duck", "example.org"}, true, "duck", "example.org:12443", ""},
		{[]string{"duck", "::1", "7000"}, true, "duck", "[::1]:7000", ""},
		{[]string{"duck", "h", "0"}, false, "", "", `invalid port "0": want a number from 1 to 65535`},
	}
	for _, tt := range tests {
		nick, addr, err := parseArgs(tt.args, tt.tls)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if nick != tt.nick || addr != tt.addr || errText != tt.err {
			t.Errorf("parseArgs(%q, %v) = %q, %q, %q; want %q, %q, %q",
				tt.args, tt.tls, nick, addr, errText, tt.nick, tt.addr, tt.err)
		}
	}
}

func TestDialError(t *testing.T) {
	cert := &x509.Certificate{DNSNames: []string{"chat.example"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	verify := func(err error) error {
		return &net.OpError{Op: "remote error", Net: "tcp", Err: &tls.CertificateVerificationError{Err: err}}
	}
	tests := []struct {
		err  error
		want string
	}{
		{verify(x509.UnknownAuthorityError{Cert: cert}),
			"cannot connect to h:1: TLS: certificate signed by unknown authority — use -ca FILE to trust its CA"},
		{verify(x509.HostnameError{Certificate: cert, Host: "localhost"}),
			"cannot connect to h:1: TLS: the certificate is for chat.example, 127.0.0.1, not localhost"},
		{verify(x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired, Detail: "current time is after"}),
			"cannot connect to h:1: TLS: certificate has expired or is not yet valid: current time is after"},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"},
			"cannot connect to h:1: TLS: the server did not answer in TLS — is this its TLS port?"},
	}
	for _, tt := range tests {
		if got := dialError("h:1", tt.err); got != tt.want {
			t.Errorf("dialError(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
