package ircish

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a server's log records; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// lastConnListener is a listener whose Accept waits until the listener is
// closed, then hands out one last connection: one accepted just as the
// server shuts down.
type lastConnListener struct {
	addr      net.Addr
	accepting chan struct{} // closed at the first Accept
	closed    chan struct{}
	last      chan net.Conn
	once      sync.Once
	firstOnce sync.Once
}

// newLastConnListener returns a lastConnListener whose last connection is
// the server's side of a real loopback connection that its client has
// already closed.
func newLastConnListener(t *testing.T) *lastConnListener {
	t.Helper()
	real, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	client, err := net.Dial("tcp", real.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client.Close()
	server, err := real.Accept()
	if err != nil {
		t.Fatal(err)
	}
	l := &lastConnListener{
		addr:      real.Addr(),
		accepting: make(chan struct{}),
		closed:    make(chan struct{}),
		last:      make(chan net.Conn, 1),
	}
	l.last <- server
	t.Cleanup(func() { server.Close() })
	return l
}

func (l *lastConnListener) Accept() (net.Conn, error) {
	l.firstOnce.Do(func() { close(l.accepting) })
	<-l.closed
	select {
	case c := <-l.last:
		return c, nil
	default:
		return nil, net.ErrClosed
	}
}

func (l *lastConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *lastConnListener) Addr() net.Addr { return l.addr }

// A connection accepted as the listener closes is refused, and Shutdown
// waits for that: when it returns, the refusal is logged, so that nothing
// is logged after the log is closed. Under -race, the test also catches a
// refusal joining the WaitGroup that Shutdown already waits on.
func TestShutdownWaitsForAConnectionAcceptedAsItCloses(t *testing.T) {
	for i := range 50 {
		var log logBuffer
		s := &Server{Log: log.logger()}
		l := newLastConnListener(t)
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		select {
		case <-l.accepting:
		case <-time.After(waitTimeout):
			t.Fatalf("Serve did not call Accept within %v", waitTimeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: Shutdown = %v, want nil", i, err)
		}
		const want = `msg="connection refused" remote=127.0.0.1:`
		if got := log.String(); !strings.Contains(got, want) {
			t.Fatalf("round %d: when Shutdown returned, the log was %q, want a record with %q", i, got, want)
		}
		select {
		case err := <-served:
			if err != ErrServerClosed {
				t.Fatalf("round %d: Serve = %v, want ErrServerClosed", i, err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("round %d: Serve did not return within %v of Shutdown", i, waitTimeout)
		}
	}
}
