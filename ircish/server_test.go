package ircish

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 20 * time.Second

// startServer serves s on a fresh loopback listener until the test ends.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, s, l)
}

// startServerOn serves s on l until the test ends.
func startServerOn(t testing.TB, s *Server, l net.Listener) string {
	t.Helper()
	if s.Log == nil {
		s.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// A testConn is a raw protocol connection whose lines a goroutine reads.
type testConn struct {
	t     testing.TB
	name  string
	conn  net.Conn
	lines chan string // closed at EOF
	seen  []string    // the lines taken so far, for failure messages
}

func dial(t testing.TB, addr, name string) *testConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &testConn{t: t, name: name, conn: conn, lines: make(chan string, 4096)}
	go c.read()
	t.Cleanup(func() { conn.Close() })
	return c
}

// read reads the connection's lines into c.lines, and closes it at EOF.
func (c *testConn) read() {
	defer close(c.lines)
	r := bufio.NewReader(c.conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		c.lines <- strings.TrimSuffix(line, "\r\n")
	}
}

// register dials and registers as nick.
func register(t testing.TB, addr, nick string) *testConn {
	c := dial(t, addr, nick)
	c.send("NICK " + nick)
	c.expect("^JOINED " + regexp.QuoteMeta(nick) + "$")
	return c
}

func (c *testConn) send(line string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		c.t.Fatalf("%s: send %q: %v", c.name, line, err)
	}
}

// expect skips lines up to one that matches pattern, and returns it.
func (c *testConn) expect(pattern string) string {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	timeout := time.After(waitTimeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("%s: connection closed while waiting for %q; last lines: %q", c.name, pattern, c.last())
			}
			c.seen = append(c.seen, line)
			if re.MatchString(line) {
				return line
			}
		case <-timeout:
			c.t.Fatalf("%s: no line matching %q within %v; last lines: %q", c.name, pattern, waitTimeout, c.last())
		}
	}
}

// barrier sends PING and returns the lines that arrive before its PONG.
func (c *testConn) barrier() []string {
	c.t.Helper()
	token := fmt.Sprintf("barrier-%d", time.Now().UnixNano())
	c.send("PING " + token)
	start := len(c.seen)
	c.expect("^PONG " + token + "$")
	return c.seen[start : len(c.seen)-1]
}

// closed waits for the server to close the connection.
func (c *testConn) closed() {
	c.t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				return
			}
			c.seen = append(c.seen, line)
		case <-timeout:
			c.t.Fatalf("%s: still open after %v; last lines: %q", c.name, waitTimeout, c.last())
		}
	}
}

func (c *testConn) last() []string {
	return c.seen[max(0, len(c.seen)-10):]
}

// fakeClock is a clock whose waits advance its time at once, and end at
// once unless the test holds it.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
	hold  sync.RWMutex  // held by the test: sleepers wait
	sleep chan struct{} // told, without blocking, that someone sleeps
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1e9, 0), sleep: make(chan struct{}, 1)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) sleptInAll() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// After advances the clock by d at once, and fires once the test does not
// hold it.
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	c.mu.Unlock()
	select {
	case c.sleep <- struct{}{}:
	default:
	}
	fire := make(chan time.Time, 1)
	go func() {
		c.hold.RLock()
		c.hold.RUnlock()
		fire <- c.Now()
	}()
	return fire
}

// A pipeListener's connections are in-memory pipes, which hold no byte
// that the other side has not read.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) dial() net.Conn {
	mine, theirs := net.Pipe()
	l.conns <- theirs
	return mine
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
