package ircish

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the Server's limits.
const (
	DefaultMaxLine      = 4096
	DefaultSendQueue    = 1 << 20
	DefaultWriteTimeout = 30 * time.Second
)

// A Server serves one chat room to the clients of its listeners. Set its
// fields before calling Serve; the zero value of each is its default.
type Server struct {
	Log          *slog.Logger  // nil: no log
	MaxLine      int           // longest client line in bytes, without terminator
	SendQueue    int           // bytes queued for one client before it is dropped
	WriteTimeout time.Duration // for one write to a client
	LogWhispers  bool          // log whisper texts, not only who whispered to whom

	room     *room
	initOnce sync.Once
	closing  atomic.Bool
	wg       sync.WaitGroup // one per connection being served

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	clients   map[*client]struct{}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("ircish: server closed")

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.room = newRoom()
		s.listeners = make(map[net.Listener]struct{})
		s.clients = make(map[*client]struct{})
	})
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return discard
	}
	return s.Log
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func (s *Server) maxLine() int                { return orDefault(s.MaxLine, DefaultMaxLine) }
func (s *Server) sendQueue() int              { return orDefault(s.SendQueue, DefaultSendQueue) }
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, DefaultWriteTimeout) }

func orDefault[T int | time.Duration](v, dflt T) T {
	if v == 0 {
		return dflt
	}
	return v
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown, or the error that made accepting
// fail; Serve does not close the clients then, Shutdown does.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if !s.track(l) {
		return ErrServerClosed
	}
	defer s.untrack(l)
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if isTimeout(err) {
				continue
			}
			return err
		}
		s.serveConn(conn)
	}
}

func (s *Server) serveConn(conn net.Conn) {
	c := newClient(s, conn)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	s.log().Info("client connected", "remote", c.remote)
	go c.serve()
}

func (s *Server) track(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) untrack(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
}

// forget is called by a client's goroutine as it ends.
func (s *Server) forget(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) shuttingDown() bool { return s.closing.Load() }

// Shutdown stops the listeners, sends BYE to every client and waits until
// the clients are gone or ctx ends; then it closes what is left and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	s.room.close()
	bye := Line(Bye, "the server is shutting down")
	for c := range s.clients {
		c.out.push(bye)
		c.out.closeAfterFlush()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.clients {
			c.conn.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
