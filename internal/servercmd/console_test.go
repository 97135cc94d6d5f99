package servercmd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// A stuckWriter is a terminal that takes no line until released: its first
// Write says it has begun, then waits.
type stuckWriter struct {
	begun, release chan struct{}
	once           sync.Once
	wrote          chan struct{} // a token after each Write

	mu  sync.Mutex
	out strings.Builder
}

func newStuckWriter() *stuckWriter {
	return &stuckWriter{begun: make(chan struct{}), release: make(chan struct{}), wrote: make(chan struct{}, 1)}
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.begun) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return w.out.Write(p)
}

// waitFor waits until what was written ends with suffix.
func (w *stuckWriter) waitFor(t *testing.T, suffix string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !strings.HasSuffix(w.String(), suffix) {
		select {
		case <-w.wrote:
		case <-timeout:
			t.Fatalf("waited 10s for the console to print %q; it printed\n%s", suffix, w.String())
		}
	}
}

func (w *stuckWriter) waitBegun(t *testing.T) {
	t.Helper()
	select {
	case <-w.begun:
	case <-time.After(10 * time.Second):
		t.Fatal("waited 10s for the console to write its first line")
	}
}

func (w *stuckWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

func TestConsoleDropsWhenStuck(t *testing.T) {
	w := newStuckWriter()
	c := newConsole(w)
	c.print("line 0\n")
	w.waitBegun(t)

	// The writer holds line 0; consoleBuffer lines wait; 5 are dropped.
	// None of it blocks.
	returned := make(chan struct{})
	go func() {
		for i := 1; i <= consoleBuffer+5; i++ {
			c.print(fmt.Sprintf("line %d\n", i))
		}
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for print to return while the terminal is stuck")
	}
	close(w.release)
	w.waitFor(t, fmt.Sprintf("line %d\n", consoleBuffer))
	c.print("line after\n")
	c.close()

	var want strings.Builder
	for i := 0; i <= consoleBuffer; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	want.WriteString("(5 console lines dropped: stderr was too slow; the log has every event)\n")
	want.WriteString("line after\n")
	if got := w.String(); got != want.String() {
		t.Errorf("the console printed\n%s\nwant\n%s", got, want.String())
	}
}

func TestConsoleNotesDropsAtClose(t *testing.T) {
	w := newStuckWriter()
	c := newConsole(w)
	c.print("line 0\n")
	w.waitBegun(t)
	for i := 1; i <= consoleBuffer+1; i++ {
		c.print(fmt.Sprintf("line %d\n", i))
	}
	close(w.release)
	c.close()
	c.print("after close\n") // ignored: the server may log after Main returns
	if got, want := w.String(), "(1 console lines dropped"; !strings.Contains(got, want) {
		t.Errorf("the console printed\n%s\nwant a line starting %q", got, want)
	}
}

func TestConsoleLines(t *testing.T) {
	at := time.Date(2024, 5, 6, 12, 1, 2, 0, time.Local)
	tests := []struct {
		msg   string
		attrs []any
		want  string
	}{
		{"client connected", []any{"remote", "127.0.0.1:53422"}, "12:01:02 127.0.0.1:53422 connected\n"},
		{"client registered", []any{"remote", "127.0.0.1:53422", "nick", "duck"}, "12:01:02 127.0.0.1:53422 registered as duck\n"},
		{"client connected", []any{"remote", "127.0.0.1:53422", "web", true}, "12:01:02 127.0.0.1:53422 connected (web)\n"},
		{"client disconnected", []any{"remote", "127.0.0.1:53422", "nick", "duck", "web", true, "cause", "quit"}, "12:01:02 127.0.0.1:53422 duck left (quit) (web)\n"},
		{"nick changed", []any{"remote", "127.0.0.1:53422", "nick", "goose", "old", "duck"}, "12:01:02 127.0.0.1:53422 duck is now goose\n"},
		{"client disconnected", []any{"remote", "[::1]:53422", "nick", "duck", "cause", "quit"}, "12:01:02 [::1]:53422 duck left (quit)\n"},
		{"client disconnected", []any{"remote", "127.0.0.1:53422", "cause", "registration timeout"}, "12:01:02 127.0.0.1:53422 left (registration timeout)\n"},
		{"connection refused", []any{"remote", "127.0.0.1:53422", "err", "the server is full; try again later"}, "12:01:02 127.0.0.1:53422 refused (the server is full; try again later)\n"},
	}
	for _, tt := range tests {
		r := slog.NewRecord(at, slog.LevelInfo, tt.msg, 0)
		r.Add(tt.attrs...)
		if got := consoleLine(r); got != tt.want {
			t.Errorf("consoleLine(%q %v) = %q, want %q", tt.msg, tt.attrs, got, tt.want)
		}
	}
}

// TestConsoleHandlerMessageCost checks that a chat message's record, the
// hot path, passes through the console handler without allocation and
// prints nothing.
func TestConsoleHandlerMessageCost(t *testing.T) {
	w := newStuckWriter() // would hang the console's writer, not the test
	c := newConsole(w)
	defer func() {
		close(w.release)
		c.close()
	}()
	h := consoleHandler{slog.DiscardHandler, c}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "message", 0)
	r.AddAttrs(slog.String("remote", "127.0.0.1:53422"), slog.String("nick", "duck"), slog.String("text", "hello"))
	allocs := testing.AllocsPerRun(100, func() { h.Handle(context.Background(), r) })
	if allocs != 0 {
		t.Errorf("a message record costs %v allocations through the console handler, want 0", allocs)
	}
	select {
	case <-w.begun:
		t.Errorf("the console printed a line for a message record")
	default:
	}
}
