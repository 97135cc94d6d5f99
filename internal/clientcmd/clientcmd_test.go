package clientcmd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args  []string
		tls   bool
		nick  string
		addrs []string
		err   string
	}{
		{[]string{"duck"}, false, "duck", []string{"127.0.0.1:12000"}, ""},
		{[]string{"duck"}, true, "duck", []string{"127.0.0.1:12443"}, ""},
		{[]string{"duck", "example.org"}, true, "duck", []string{"example.org:12443"}, ""},
		{[]string{"duck", "::1", "7000"}, true, "duck", []string{"[::1]:7000"}, ""},
		{[]string{"duck", "::1"}, false, "duck", []string{"[::1]:12000"}, ""},
		{[]string{"duck", "fe80::1%eth0"}, false, "duck", []string{"[fe80::1%eth0]:12000"}, ""},
		{[]string{"duck", "h", "0"}, false, "", nil, `invalid port "0": want a number from 1 to 65535`},

		// Several servers; a port in HOST wins over PORT.
		{[]string{"duck", "a,b:7001,[::1]:7002,::2,[::3]"}, false, "duck",
			[]string{"a:12000", "b:7001", "[::1]:7002", "[::2]:12000", "[::3]:12000"}, ""},
		{[]string{"duck", "a,b:7001", "7000"}, true, "duck", []string{"a:7000", "b:7001"}, ""},
		{[]string{"duck", "a:7001"}, false, "duck", []string{"a:7001"}, ""},
		{[]string{"duck", "a,a"}, false, "duck", []string{"a:12000", "a:12000"}, ""},

		{[]string{"duck", "a,,b"}, false, "", nil, `invalid HOST "a,,b": server 2 of 3 is empty`},
		{[]string{"duck", "a,"}, false, "", nil, `invalid HOST "a,": server 2 of 2 is empty`},
		{[]string{"duck", ""}, false, "", nil, `invalid HOST "": want a host name or address`},
		{[]string{"duck", "a,b:http"}, false, "", nil, `invalid port "http" in "b:http": want a number from 1 to 65535`},
		{[]string{"duck", "b:70000"}, false, "", nil, `invalid port "70000" in "b:70000": want a number from 1 to 65535`},
		{[]string{"duck", "b:"}, false, "", nil, `invalid port "" in "b:": want a number from 1 to 65535`},
		{[]string{"duck", "[::1]:0"}, false, "", nil, `invalid port "0" in "[::1]:0": want a number from 1 to 65535`},
		{[]string{"duck", "a,b", "http"}, false, "", nil, `invalid port "http": want a number from 1 to 65535`},
		{[]string{"duck", ":7000"}, false, "", nil, `invalid server ":7000": no host`},
		{[]string{"duck", "[::1"}, false, "", nil, `invalid server "[::1": missing ']' in address`},
		{[]string{"duck", "a:b:c"}, false, "", nil, `invalid server "a:b:c": not an IPv6 address, nor host:port`},
	}
	for _, tt := range tests {
		nick, addrs, err := parseArgs(tt.args, tt.tls)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if nick != tt.nick || !slices.Equal(addrs, tt.addrs) || errText != tt.err {
			t.Errorf("parseArgs(%q, %v) = %q, %q, %q; want %q, %q, %q",
				tt.args, tt.tls, nick, addrs, errText, tt.nick, tt.addrs, tt.err)
		}
	}
}

// Reconnecting goes round the servers from the one after the lost one, at
// once, and waits, longer each time, only once each has had its turn.
func TestNextAttempt(t *testing.T) {
	tests := []struct {
		servers, lost int
		want          string // server:wait of each attempt
	}{
		{1, 0, "0:1s 0:2s 0:4s 0:8s 0:16s 0:30s 0:30s"},
		{2, 0, "1:0s 0:1s 1:0s 0:2s 1:0s 0:4s"},
		{3, 1, "2:0s 0:0s 1:1s 2:0s 0:0s 1:2s 2:0s"},
	}
	for _, tt := range tests {
		c := &chat{addrs: make([]string, tt.servers), cur: tt.lost, backoff: firstBackoff}
		var got []string
		for range strings.Count(tt.want, " ") + 1 {
			wait := c.next()
			got = append(got, fmt.Sprintf("%d:%v", c.cur, wait))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%d servers, lost %d: next() = %s, want %s", tt.servers, tt.lost, strings.Join(got, " "), tt.want)
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

// A certificate's names reach the terminal in the error that says they do
// not match: escape sequences in them are neutralised like chat lines.
func TestCertificateNamesAreNeutralised(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "evil"},
		DNSNames:              []string{"evil\x1b]0;pwned\x07\x1b[2J.example"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()

	_, port, _ := net.SplitHostPort(l.Addr().String())
	var stderr bytes.Buffer
	if status := Main([]string{"-ca", caFile, "duck", "127.0.0.1", port}, strings.NewReader(""), io.Discard, &stderr); status != 1 {
		t.Fatalf("Main = %d, want 1: %s", status, stderr.String())
	}
	got := stderr.String()
	if strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, "the certificate is for evil^[]0;pwned^G^[[2J.example, not 127.0.0.1") {
		t.Errorf("Main said %q, want the certificate's name with its escapes neutralised", got)
	}
}

// Given three servers, the first refusing connections, the client joins
// the second; when that one stops, it comes back on the third, and what it
// says reaches the users there.
func TestServersFailover(t *testing.T) {
	dead := refusingAddr(t)
	first, second := listen(t, "127.0.0.1:0"), listen(t, "127.0.0.1:0")
	firstSrv := serve(t, first)
	serve(t, second)
	_, awaitFirst := join(t, first.Addr().String(), "alice")
	_, awaitSecond := join(t, second.Addr().String(), "bob")

	stdin, typed := io.Pipe()
	defer typed.Close()
	out := new(syncBuffer)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the client wrote:\n%s", out)
		}
	})
	status := make(chan int, 1)
	servers := dead + "," + first.Addr().String() + "," + second.Addr().String()
	go func() {
		status <- Main([]string{"-reconnect", "forever", "duck", servers}, stdin, out, out)
	}()
	awaitFirst("JOINED duck")

	ctx, cancel := context.WithTimeout(context.Background(), ptyTimeout)
	defer cancel()
	firstSrv.Shutdown(ctx)
	awaitSecond("JOINED duck")
	io.WriteString(typed, "back\n")
	awaitSecond("MSG duck back")

	typed.Close()
	select {
	case code := <-status:
		if code != 0 {
			t.Errorf("Main returned %d at the end of its input, want 0", code)
		}
	case <-time.After(ptyTimeout):
		t.Fatalf("Main still runs %v after the end of its input", ptyTimeout)
	}
}

// refusingAddr returns an address on 127.0.0.1 that refuses connections
// until the test ends: the local end of a connection, whose port the
// connection holds while nothing listens on it.
func refusingAddr(t *testing.T) string {
	l := listen(t, "127.0.0.1:0")
	t.Cleanup(func() { l.Close() })
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String()
}

// A syncBuffer is a bytes.Buffer safe to use from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
