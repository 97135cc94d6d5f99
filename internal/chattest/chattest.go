// Package chattest holds what the tests of several packages need to talk
// to a chat server: serve one until the test ends (Serve), dial it and
// register (Dial, Register), wait for a line (Conn's Expect, Barrier),
// collect its log (LogBuffer), a certificate for TLS (SelfSigned), and
// wait for a condition (WaitFor).
package chattest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitTimeout bounds every wait in tests.
const WaitTimeout = 20 * time.Second

// A Server is a chat server: a *server.Server.
type Server interface {
	Serve(l net.Listener) error
	Shutdown(ctx context.Context) error
}

// Listen returns a fresh loopback listener.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Serve serves s on l until the test ends, and returns l's address. At the
// end it shuts s down, and fails the test unless Serve then returns
// closed, the error that says so.
func Serve(t testing.TB, s Server, l net.Listener, closed error) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, closed) {
			t.Errorf("Serve returned %v, want %v", err, closed)
		}
	})
	return l.Addr().String()
}

// A Conn is a raw protocol connection whose lines a goroutine reads.
type Conn struct {
	t       testing.TB
	Name    string
	NetConn net.Conn
	Lines   chan string // closed at EOF
	Seen    []string    // the lines taken so far, for failure messages
}

// Dial connects to addr; name names the connection in failures.
func Dial(t testing.TB, addr, name string) *Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return NewConn(t, name, conn)
}

// NewConn returns conn as a Conn, and starts reading its lines.
func NewConn(t testing.TB, name string, conn net.Conn) *Conn {
	c := &Conn{t: t, Name: name, NetConn: conn, Lines: make(chan string, 4096)}
	go c.read()
	return c
}

// read reads the connection's lines into c.Lines, and closes it at EOF.
func (c *Conn) read() {
	defer close(c.Lines)
	r := bufio.NewReader(c.NetConn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		c.Lines <- strings.TrimSuffix(line, "\r\n")
	}
}

// Register dials addr and registers as nick.
func Register(t testing.TB, addr, nick string) *Conn {
	c := Dial(t, addr, nick)
	c.Send("NICK " + nick)
	c.Expect("^JOINED " + regexp.QuoteMeta(nick) + "$")
	return c
}

// Send sends line, ended by LF.
func (c *Conn) Send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.NetConn, line+"\n"); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.Name, line, err)
	}
}

// Expect skips lines up to one that matches pattern, and returns it.
func (c *Conn) Expect(pattern string) string {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	timeout := time.After(WaitTimeout)
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				c.t.Fatalf("%s: connection closed while waiting for %q; last lines: %q", c.Name, pattern, c.Last())
			}
			c.Seen = append(c.Seen, line)
			if re.MatchString(line) {
				return line
			}
		case <-timeout:
			c.t.Fatalf("%s: no line matching %q within %v; last lines: %q", c.Name, pattern, WaitTimeout, c.Last())
		}
	}
}

// Barrier sends PING and returns the lines that arrive before its PONG.
func (c *Conn) Barrier() []string {
	c.t.Helper()
	token := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	c.Send("PING " + token)
	start := len(c.Seen)
	c.Expect("^PONG " + token + "$")
	return c.Seen[start : len(c.Seen)-1]
}

// Closed waits for the server to close the connection.
func (c *Conn) Closed() {
	c.t.Helper()
	timeout := time.After(WaitTimeout)
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				return
			}
			c.Seen = append(c.Seen, line)
		case <-timeout:
			c.t.Fatalf("%s: still open after %v; last lines: %q", c.Name, WaitTimeout, c.Last())
		}
	}
}

// Last returns the last lines taken.
func (c *Conn) Last() []string {
	return c.Seen[max(0, len(c.Seen)-10):]
}

// A LogBuffer collects a server's log records; safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a logger that writes text records to b.
func (b *LogBuffer) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// SelfSigned returns a throwaway certificate for 127.0.0.1.
func SelfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// WaitFor polls cond until it holds, failing the test after WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > WaitTimeout {
			t.Fatalf("waited %v for %s", WaitTimeout, what)
		}
	}
}

// HistoryLine matches a HISTORY line of a message, and captures its seq,
// sender and text.
var HistoryLine = regexp.MustCompile(`^HISTORY (\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (.*)$`)

// AskHistory sends a HISTORY command and returns the lines of the reply
// before its END, checking that END counts the messages.
func (c *Conn) AskHistory(args string) []string {
	c.t.Helper()
	c.Send(strings.TrimSpace("HISTORY " + args))
	start := len(c.Seen)
	end := c.Expect(`^HISTORY (END|GAP|\d+) `)
	var reply []string
	for ; !strings.HasPrefix(end, "HISTORY END "); end = c.Expect("^HISTORY ") {
		reply = append(reply, end)
	}
	messages := 0
	for _, line := range reply {
		if HistoryLine.MatchString(line) {
			messages++
		}
	}
	if want := fmt.Sprintf("HISTORY END %d", messages); end != want {
		c.t.Fatalf("%s: HISTORY %s ended with %q, want %q; lines since: %q", c.Name, args, end, want, c.Seen[start:])
	}
	return reply
}
