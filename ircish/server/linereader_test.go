package server

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// A failingConn fails every read with err.
type failingConn struct {
	net.Conn
	err error
}

func (c failingConn) Read([]byte) (int, error)        { return 0, c.err }
func (c failingConn) SetReadDeadline(time.Time) error { return nil }

// A keepalive that goes unanswered fails reads with ETIMEDOUT, whose
// Timeout method says true: that is a lost connection, not a line or
// registration timeout.
func TestKeepaliveFailureIsNoTimeoutOfOurs(t *testing.T) {
	keepalive := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ETIMEDOUT)}
	if !keepalive.Timeout() {
		t.Fatal("ETIMEDOUT no longer says Timeout; this test tests nothing")
	}
	l := newLineReader(failingConn{err: keepalive}, 100, time.Minute)
	l.setDeadline(time.Now().Add(time.Minute))
	_, err := l.readLine()
	if errors.Is(err, errLineTimeout) || errors.Is(err, errDeadline) || !errors.Is(err, syscall.ETIMEDOUT) {
		t.Errorf("readLine with the connection failing with ETIMEDOUT: %v, want ETIMEDOUT itself", err)
	}
	if deadlinePassed(keepalive) {
		t.Errorf("deadlinePassed(%v) = true, want false", keepalive)
	}
}

func TestDeadlinePassed(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	server.SetReadDeadline(time.Now())
	_, err := server.Read(make([]byte, 1))
	if !deadlinePassed(err) {
		t.Errorf("deadlinePassed(%v) = false for a read past its deadline, want true", err)
	}
}
