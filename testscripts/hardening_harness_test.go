package testscripts

// The hardening scenarios' commands (limits_*, junk_*, tls_*, logrotate_*,
// privacy_*): connections that don't read or that speak TLS, signals, a
// throwaway certificate, numbered runs of lines, counting lines, and
// waiting for a line in a file; and connect, with its flags. init merges
// them into harnessCommands.

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
	"io"
	"maps"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	maps.Copy(harnessCommands, hardeningCommands)
}

var hardeningCommands = map[string]harnessCommand{
	"connect":  {connectUsage, 1, -1, (*harness).connectFlags},
	"read":     {"read NAME", 1, 1, (*harness).read},
	"ends":     {"ends NAME REGEXP", 2, 2, (*harness).ends},
	"signal":   {"signal NAME HUP|INT|TERM", 2, 2, (*harness).signal},
	"gencert":  {"gencert DIR", 1, 1, (*harness).gencert},
	"capture":  {"capture NAME VAR REGEXP", 3, 3, (*harness).capture},
	"sendseq":  {"sendseq NAME COUNT FORMAT", 3, 3, (*harness).sendseq},
	"nextseq":  {"nextseq NAME COUNT FORMAT", 3, 3, (*harness).nextseq},
	"count":    {"count NAME N REGEXP", 3, 3, (*harness).count},
	"seen":     {"seen NAME REGEXP", 2, 2, (*harness).seen},
	"waitfile": {"waitfile FILE REGEXP", 2, 2, (*harness).waitfile},
}

const connectUsage = "connect [-noread] [-send STRING] [-tls [-ca FILE] [-tls-max 1.0|1.1|1.2|1.3]] NAME [addr]"

// noreadBuf is the receive buffer a -noread connection asks for, so that
// it fills after a few kilobytes rather than megabytes.
const noreadBuf = 4096

// readBuf is the receive buffer a -noread connection gets once it is read.
const readBuf = 1 << 20

// unread holds the -noread connections not yet read, by peer.
var unread sync.Map // *peer → net.Conn

// connectFlags opens a protocol connection named NAME to addr, by default
// the server's $ADDR. With -noread, the connection has a small receive
// buffer and nothing reads it until the read command. With -tls it speaks
// TLS (1.2 or later unless -tls-max says less), trusting the certificates
// in -ca's PEM file, or the system's; the handshake happens as it is first
// read or written. With -send, it sends STRING (escapes as for sendraw) as
// soon as it is connected, as a web client does. It is the command
// "connect".
func (h *harness) connectFlags(ts *testscript.TestScript, args []string) {
	var noread, useTLS bool
	var caFile, tlsMax, first string
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch {
		case args[0] == "-noread":
			noread = true
		case args[0] == "-tls":
			useTLS = true
		case args[0] == "-ca" && len(args) > 1:
			caFile, args = args[1], args[1:]
		case args[0] == "-tls-max" && len(args) > 1:
			tlsMax, args = args[1], args[1:]
		case args[0] == "-send" && len(args) > 1:
			first, args = unescape(ts, args[1]), args[1:]
		default:
			ts.Fatalf("usage: %s", connectUsage)
		}
		args = args[1:]
	}
	if len(args) < 1 || len(args) > 2 || !useTLS && (caFile != "" || tlsMax != "") {
		ts.Fatalf("usage: %s", connectUsage)
	}
	name, addr := args[0], ts.Getenv("ADDR")
	if len(args) == 2 {
		addr = args[1]
	}
	d := net.Dialer{Timeout: h.timeout(ts)}
	if noread {
		d.Control = func(network, address string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, noreadBuf)
			})
			return err
		}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		ts.Fatalf("%s: %v", name, err)
	}
	if useTLS {
		conn = tls.Client(conn, h.tlsConfig(ts, addr, caFile, tlsMax))
	}
	if first != "" {
		if _, err := io.WriteString(conn, first); err != nil {
			ts.Fatalf("%s: %v", name, err)
		}
	}
	p := &peer{name: name, lines: &lineBuf{crlf: true}, w: conn, conn: conn}
	h.add(ts, p)
	if noread {
		unread.Store(p, conn)
		return
	}
	go readInto(p.lines, conn, false)
}

// netConn returns the TCP connection under conn.
func netConn(conn net.Conn) net.Conn {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return conn
}

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

// readInto copies conn's lines into lines until the connection ends. With
// cutOK, a last line cut short is no failure but part of why the lines
// ended: a server that drops a client does that.
func readInto(lines *lineBuf, conn net.Conn, cutOK bool) {
	_, err := io.Copy(lines, conn)
	switch {
	case err == nil:
		err = errEOF
	case errors.Is(err, net.ErrClosed):
		err = errClosedHere
	}
	if cutOK {
		lines.mu.Lock()
		if n := len(lines.partial); n > 0 {
			lines.partial = nil
			err = fmt.Errorf("%w, cutting the last line short after %d bytes", err, n)
		}
		lines.mu.Unlock()
	}
	lines.close(err)
}

// read starts reading connection NAME, opened with connect -noread: what
// the server sent it meanwhile can now be read by expect and next. If the
// server dropped it, the last line may be cut short: it is left out, and
// ends tells of it.
func (h *harness) read(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	conn, ok := unread.LoadAndDelete(p)
	if !ok {
		ts.Fatalf("%s is read already: read is for connect -noread", p.name)
	}
	// Once read, the connection gets a large receive buffer:
	// with a window below the sender's segment size, Linux may send one
	// window's worth per persist timeout (TCP's silly window avoidance),
	// a trickle that looks like a server that stopped writing.
	if tc, ok := netConn(conn.(net.Conn)).(*net.TCPConn); ok {
		ts.Check(tc.SetReadBuffer(readBuf))
	}
	go readInto(p.lines, conn.(net.Conn), true)
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
	p.lines.mu.Lock()
	read := p.lines.lines[:p.lines.read]
	var got []string
	for _, line := range read {
		if re.MatchString(line) {
			got = append(got, line)
		}
	}
	p.lines.mu.Unlock()
	if len(got) != want {
		var s strings.Builder
		for i, line := range got {
			if i == 10 {
				fmt.Fprintf(&s, "\n\t...")
				break
			}
			fmt.Fprintf(&s, "\n\t%s", abbrev(line))
		}
		ts.Fatalf("%s: %d of the %d lines read match %q, want %d:%s", p.name, len(got), len(read), args[2], want, s.String())
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
