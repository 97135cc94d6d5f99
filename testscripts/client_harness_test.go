package testscripts

// Commands for the client's scenarios: a fake server that the script
// plays by hand, to send what the real server never would (escape
// sequences) and to drop a connection without BYE; a throwaway TLS
// certificate, and the port the server serves TLS on.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	harnessCommands["listen"] = harnessCommand{"listen NAME", 1, 1, (*harness).listen}
	harnessCommands["accept"] = harnessCommand{"accept NAME", 1, 1, (*harness).accept}
	harnessCommands["client-gencert"] = harnessCommand{"client-gencert DIR", 1, 1, (*harness).clientGencert}
	harnessCommands["client-tlsport"] = harnessCommand{"client-tlsport", 0, 0, (*harness).clientTLSPort}
}

// listeners are the scripts' fake servers, by harness and name. Scripts
// run in parallel, so it has a lock.
var (
	listenersMu sync.Mutex
	listeners   = map[*harness]map[string]net.Listener{}
)

// listen starts a fake server named NAME on 127.0.0.1 and a port it picks,
// which it puts in $NAME_PORT. accept NAME then waits for its one
// connection, which becomes the peer NAME.
func (h *harness) listen(ts *testscript.TestScript, args []string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	listenersMu.Lock()
	if listeners[h] == nil {
		listeners[h] = make(map[string]net.Listener)
		ts.Defer(func() {
			listenersMu.Lock()
			delete(listeners, h)
			listenersMu.Unlock()
		})
	}
	listeners[h][args[0]] = l
	listenersMu.Unlock()
	ts.Setenv(args[0]+"_PORT", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// accept waits for a connection to fake server NAME and makes it the peer
// NAME, for send, sendraw, expect, next and close.
func (h *harness) accept(ts *testscript.TestScript, args []string) {
	listenersMu.Lock()
	l, ok := listeners[h][args[0]]
	listenersMu.Unlock()
	if !ok {
		ts.Fatalf("no fake server named %s: listen first", args[0])
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(h.timeout(ts)))
	conn, err := l.Accept()
	if err != nil {
		ts.Fatalf("%s: waited %v for a connection: %v", args[0], h.timeout(ts), err)
	}
	lines := new(lineBuf) // the client ends its lines in CRLF, but need not
	go func() {
		_, err := io.Copy(lines, conn)
		switch {
		case err == nil:
			err = errors.New("the client closed the connection")
		case errors.Is(err, net.ErrClosed):
			err = errClosedHere
		}
		lines.close(err)
	}()
	h.add(ts, &peer{name: args[0], lines: lines, w: conn, conn: conn})
}

// clientGencert writes to DIR a throwaway self-signed certificate for
// 127.0.0.1, valid for a day, that is its own CA: cert.pem, for the
// server's -tls-cert and the client's -ca, and key.pem.
func (h *harness) clientGencert(ts *testscript.TestScript, args []string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ircish test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	ts.Check(err)
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
}

// clientTLSPort waits for the server started by serve with -tls-cert and
// -tls-key to say where it listens for TLS, and sets TLS_PORT.
func (h *harness) clientTLSPort(ts *testscript.TestScript, args []string) {
	p := h.process(ts, "server")
	what := "a line matching " + strconv.Quote(`^listening on \S+ \(TLS\)$`)
	line := h.await(ts, p, what, func(line string) bool {
		return strings.HasPrefix(line, "listening on ") && strings.HasSuffix(line, " (TLS)")
	})
	addr := strings.TrimSuffix(strings.TrimPrefix(line, "listening on "), " (TLS)")
	_, port, err := net.SplitHostPort(addr)
	ts.Check(err)
	ts.Setenv("TLS_PORT", port)
}
