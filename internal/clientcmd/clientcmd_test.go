package clientcmd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
