package servercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// consoleBuffer is how many console lines may wait for a slow terminal
// before further ones are dropped.
const consoleBuffer = 256

// consoleFlushTimeout bounds how long a stopping server waits for its
// waiting console lines to be printed.
const consoleFlushTimeout = time.Second

// A console prints short lines for people to stderr. Its lines are written
// by a goroutine of its own, so that a terminal that does not take them
// (paused with Ctrl-S, a pipe no one reads) does not stall the server: up
// to consoleBuffer lines wait, later ones are dropped, and a line in their
// place says how many were.
type console struct {
	lines chan string
	done  chan struct{} // closed when the writer has returned

	mu      sync.Mutex // makes a note of dropped lines take their place
	dropped int        // lines dropped since the last note
	closed  bool
}

func newConsole(w io.Writer) *console {
	c := &console{lines: make(chan string, consoleBuffer), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for line := range c.lines {
			io.WriteString(w, line)
		}
	}()
	return c
}

// print queues a line, or drops it if too many wait. It never blocks, and
// is safe to call from any goroutine. After close it does nothing: a server
// that exits at once (a second signal) leaves connections logging.
func (c *console) print(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.dropped > 0 {
		if !c.send(dropNote(c.dropped)) {
			c.dropped++
			return
		}
		c.dropped = 0
	}
	if !c.send(line) {
		c.dropped++
	}
}

func (c *console) send(line string) bool {
	select {
	case c.lines <- line:
		return true
	default:
		return false
	}
}

func dropNote(n int) string {
	return fmt.Sprintf("(%d console lines dropped: stderr was too slow; the log has every event)\n", n)
}

// close prints the waiting lines and the note of lines dropped, waiting at
// most consoleFlushTimeout for the terminal to take them.
func (c *console) close() {
	timeout := time.After(consoleFlushTimeout)
	c.mu.Lock()
	c.closed = true
	dropped := c.dropped
	c.mu.Unlock()
	if dropped > 0 {
		select {
		case c.lines <- dropNote(dropped):
		case <-timeout:
		}
	}
	close(c.lines)
	select {
	case <-c.done:
	case <-timeout:
	}
}

// A consoleHandler passes every record to the log's handler, and prints the
// connection events among them on the console as well, as in
// "12:01:02 127.0.0.1:53422 registered as duck". Other records, messages
// above all, cost it one comparison of their msg: no allocation.
type consoleHandler struct {
	slog.Handler
	console *console
}

func (h consoleHandler) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "client connected", "client registered", "nick changed", "client disconnected", "connection refused",
		"operator", "operator action":
		h.console.print(consoleLine(r))
	}
	return h.Handler.Handle(ctx, r)
}

func (h consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return consoleHandler{h.Handler.WithAttrs(attrs), h.console}
}

func (h consoleHandler) WithGroup(name string) slog.Handler {
	return consoleHandler{h.Handler.WithGroup(name), h.console}
}

// consoleLine says what a connection event record says, for people. It
// prints only the nicks, address and fixed texts the server logs with
// these events, never what a client said, but an operator's reasons, in
// Go's quotes: they may hold anything.
func consoleLine(r slog.Record) string {
	var remote, nick, old, cause, refusal, operator, action, target, until, reason, web string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "remote":
			remote = a.Value.String()
		case "nick":
			nick = a.Value.String()
		case "old":
			old = a.Value.String()
		case "cause":
			cause = a.Value.String()
		case "err":
			refusal = a.Value.String()
		case "web":
			web = " (web)"
		case "operator":
			operator = a.Value.String()
		case "action":
			action = a.Value.String()
		case "target":
			target = a.Value.String()
		case "until":
			until = " until " + a.Value.String()
		case "reason":
			reason = fmt.Sprintf(": %q", a.Value.String())
		}
		return true
	})
	var what string
	switch r.Message {
	case "client connected":
		what = "connected"
	case "client registered":
		what = "registered as " + nick
	case "nick changed":
		what = old + " is now " + nick
	case "client disconnected":
		what = "left (" + cause + ")"
		if nick != "" {
			what = nick + " " + what
		}
	case "connection refused":
		what = "refused (" + refusal + ")"
	case "operator":
		what = nick + " is operator " + operator
	case "operator action":
		what = nick + " (operator " + operator + "): " + action + " " + target + until + reason
	}
	return r.Time.Format(time.TimeOnly) + " " + remote + " " + what + web + "\n"
}
