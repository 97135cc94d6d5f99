package server

import (
	"ircish/internal/chattest"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"
)

// startServer serves s on a fresh loopback listener until the test ends.
func startServer(t testing.TB, s *Server) string {
	t.Helper()
	return startServerOn(t, s, chattest.Listen(t))
}

// startServerOn serves s on l until the test ends.
func startServerOn(t testing.TB, s *Server, l net.Listener) string {
	t.Helper()
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	return chattest.Serve(t, s, l, ErrServerClosed)
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
