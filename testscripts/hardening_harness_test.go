package testscripts

// The hardening scenarios' commands (limits_*, junk_*, tls_*, logrotate_*,
// privacy_*): connections that don't read or that speak TLS, signals, a
// throwaway certificate, numbered runs of lines, counting lines, and
// waiting for a line in a file. harnessCommands lists them.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func (h *harness) tlsConfig(ts *testscript.TestScript, addr, caFile, tlsMax string) *tls.Config {
	host, _, err := net.SplitHostPort(addr)
	ts.Check(err)
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(ts.MkAbs(caFile))
		ts.Check(err)
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			ts.Fatalf("%s holds no PEM certificate", caFile)
		}
	}
	if tlsMax != "" {
		versions := map[string]uint16{"1.0": tls.VersionTLS10, "1.1": tls.VersionTLS11, "1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}
		v, ok := versions[tlsMax]
		if !ok {
			ts.Fatalf("usage: %s", connectUsage)
		}
		cfg.MaxVersion = v
		cfg.MinVersion = min(cfg.MinVersion, v)
	}
	return cfg
}

// read starts reading connection NAME, opened with connect -noread: what
// the server sent it meanwhile can now be read by expect and next. If the
// server dropped it, the last line may be cut short: it is left out, and
// ends tells of it.
func (h *harness) read(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	conn, ok := h.unread[p]
	delete(h.unread, p)
	if !ok {
		ts.Fatalf("%s is read already: read is for connect -noread", p.name)
	}
	// Once read, the connection gets a large receive buffer:
	// with a window below the sender's segment size, Linux may send one
	// window's worth per persist timeout (TCP's silly window avoidance),
	// a trickle that looks like a server that stopped writing.
	if tc, ok := netConn(conn).(*net.TCPConn); ok {
		ts.Check(tc.SetReadBuffer(readBuf))
	}
	go readInto(p.lines, conn, true)
}

// ends reads connection NAME's lines, skipping them, until no more come,
// and checks that why matches REGEXP: "the server closed the connection",
// or the error that ended reading.
func (h *harness) ends(ts *testscript.TestScript, args []string) {
	p, re := h.connection(ts, args[0]), compile(ts, args[1])
	timeout := h.timeout(ts)
	start, deadline := time.Now(), time.After(timeout)
	for {
		_, err := p.lines.next(deadline)
		switch {
		case err == nil:
			continue
		case err == errTimeout:
			ts.Fatalf("%s: waited %v for the connection to end; it has not\n%s", p.name, timeout, p.lines.recent())
		case !re.MatchString(err.Error()):
			ts.Fatalf("%s: the connection ended after %v with %q, which does not match %q\n%s",
				p.name, time.Since(start).Round(time.Millisecond), err, args[1], p.lines.recent())
		}
		return
	}
}

// signal sends process NAME a signal, HUP, INT or TERM, and does not wait.
func (h *harness) signal(ts *testscript.TestScript, args []string) {
	p := h.process(ts, args[0])
	sigs := map[string]os.Signal{"HUP": syscall.SIGHUP, "INT": syscall.SIGINT, "TERM": syscall.SIGTERM}
	sig, ok := sigs[args[1]]
	if !ok {
		ts.Fatalf("usage: signal NAME HUP|INT|TERM")
	}
	ts.Check(p.cmd.Process.Signal(sig))
}

// gencert writes a throwaway self-signed certificate for 127.0.0.1 and
// localhost, valid for a day, to DIR/cert.pem, and its ECDSA key to
// DIR/key.pem. The certificate is its own CA: a client trusts it with
// connect -tls -ca DIR/cert.pem.
func (h *harness) gencert(ts *testscript.TestScript, args []string) {
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	ts.Check(err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ircish test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600))
}

// capture waits for a line from NAME that matches REGEXP, skipping lines
// that don't, and sets the environment variable VAR to the text its first
// group matched.
func (h *harness) capture(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[2])
	if re.NumSubexp() < 1 {
		ts.Fatalf("capture: REGEXP %q has no group", args[2])
	}
	line := h.await(ts, p, "a line matching "+strconv.Quote(args[2]), re.MatchString)
	ts.Setenv(args[1], re.FindStringSubmatch(line)[1])
}

// sendseq sends connection NAME COUNT lines in one write: FORMAT, with Go
// escapes, formatted by fmt.Sprintf with the line's number, 1 to COUNT, and
// LF: "MSG %d" or, padded, "MSG %0500d". A FORMAT without a % is sent as
// it is.
func (h *harness) sendseq(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	n := seqCount(ts, args[1])
	format := unescape(ts, args[2])
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(seqLine(ts, format, i))
		b.WriteByte('\n')
	}
	h.write(ts, p, b.String())
}

// nextseq checks that the next COUNT lines from NAME match FORMAT, a
// regular expression formatted by fmt.Sprintf with the line's number, 1 to
// COUNT: "^MSG ann %d$".
func (h *harness) nextseq(ts *testscript.TestScript, args []string) {
	p := h.peer(ts, args[0])
	n := seqCount(ts, args[1])
	for i := 1; i <= n; i++ {
		expr := seqLine(ts, args[2], i)
		re := compile(ts, expr)
		h.await(ts, p, fmt.Sprintf("line %d of %d, matching %q", i, n, expr), func(line string) bool {
			if !re.MatchString(line) {
				ts.Fatalf("%s: line %d of %d, %s, does not match %q\n%s", p.name, i, n, abbrev(line), expr, p.lines.recent())
			}
			return true
		})
	}
}

func seqCount(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		ts.Fatalf("COUNT %q: want a positive number", s)
	}
	return n
}

func seqLine(ts *testscript.TestScript, format string, i int) string {
	if !strings.Contains(format, "%") {
		return format
	}
	s := fmt.Sprintf(format, i)
	if strings.Contains(s, "%!") {
		ts.Fatalf("FORMAT %q: want at most one use of the line number, such as %%d; got %q", format, s)
	}
	return s
}

// count checks that exactly N of the lines read so far from NAME (by
// expect, next, quiet and the like; not those still unread) match REGEXP.
func (h *harness) count(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[2])
	want, err := strconv.Atoi(args[1])
	if err != nil || want < 0 {
		ts.Fatalf("N %q: want a number", args[1])
	}
	got, read := p.lines.matching(re)
	if len(got) != want {
		var s strings.Builder
		for i, line := range got {
			if i == 10 {
				fmt.Fprintf(&s, "\n\t...")
				break
			}
			fmt.Fprintf(&s, "\n\t%s", abbrev(line))
		}
		ts.Fatalf("%s: %d of the %d lines read match %q, want %d:%s", p.name, len(got), read, args[2], want, s.String())
	}
}

// seen waits for a line from NAME that matches REGEXP, as expect does, but
// is content with one read already: it serves to wait for two lines that
// may come in either order.
func (h *harness) seen(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[1])
	p.lines.mu.Lock()
	read := p.lines.lines[:p.lines.read]
	for _, line := range read {
		if re.MatchString(line) {
			p.lines.mu.Unlock()
			return
		}
	}
	p.lines.mu.Unlock()
	h.await(ts, p, "a line matching "+strconv.Quote(args[1]), re.MatchString)
}

// waitfilePoll is how often waitfile looks at its file.
const waitfilePoll = 10 * time.Millisecond

// waitfile waits for FILE to exist and hold a line matching REGEXP.
func (h *harness) waitfile(ts *testscript.TestScript, args []string) {
	path, re := ts.MkAbs(args[0]), compile(ts, args[1])
	timeout := h.timeout(ts)
	deadline := time.Now().Add(timeout)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(nil, len(data)+1)
			for sc.Scan() {
				if re.Match(sc.Bytes()) {
					return
				}
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			ts.Fatalf("waitfile: %v", err)
		}
		if time.Now().After(deadline) {
			what := "it does not exist"
			if err == nil {
				what = fmt.Sprintf("it has %d bytes, no line matching", len(data))
			}
			ts.Fatalf("%s: waited %v for a line matching %q; %s", args[0], timeout, args[1], what)
		}
		time.Sleep(waitfilePoll)
	}
}
