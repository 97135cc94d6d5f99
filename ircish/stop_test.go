package ircish

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// pacedLines returns NICK nick and n MSG lines, to be sent at once.
func pacedLines(nick string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "NICK %s\n", nick)
	for i := range n {
		fmt.Fprintf(&b, "MSG %s %d\n", nick, i)
	}
	return b.String()
}

// A client dropped for a stuck write is not heard again, although its
// reader still holds lines it sent, and the others see it leave at once,
// not after its paced lines.
func TestDroppedClientIsNotHeardAgain(t *testing.T) {
	const burst = 40
	addr := startServerOn(t, &Server{FloodRate: 0.1, FloodBurst: burst, WriteTimeout: 200 * time.Millisecond}, listenSmallSendBuffers(t))
	alice := register(t, addr, "alice")
	slow := dialTinyReceiveBuffer(t, addr)
	if _, err := io.WriteString(slow, pacedLines("slow", 2*burst)); err != nil {
		t.Fatal(err)
	}
	// Its burst is spent; its next line waits 10 s for its turn.
	alice.expect(fmt.Sprintf("^MSG slow slow %d$", burst-2))
	talker := register(t, addr, "talker")
	pad := strings.Repeat("x", 4000)
	for range burst - 1 { // far more than slow's sockets hold
		talker.send("MSG " + pad)
	}
	line := alice.expect("^(LEFT slow .*|MSG slow .*)$")
	if line != "LEFT slow write timeout" {
		t.Fatalf("alice saw %q after slow stopped reading, want LEFT slow write timeout", line)
	}
}

// Shutdown ends at once although a client has many lines buffered and is
// waiting for its flood limit: the wait ends, and its lines are not run.
func TestShutdownWakesAPacedClient(t *testing.T) {
	s := &Server{FloodRate: 0.1, FloodBurst: 2}
	addr := startServer(t, s)
	alice := register(t, addr, "alice")
	paced := dial(t, addr, "paced")
	paced.send(strings.TrimSuffix(pacedLines("paced", 100), "\n"))
	paced.expect("^ERR FLOOD ")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want it to end within its grace", err)
	}
	paced.expect("^BYE the server is shutting down$")
	alice.expect("^BYE the server is shutting down$")
	for _, line := range alice.seen {
		if strings.HasPrefix(line, "MSG paced paced 1") {
			t.Errorf("alice heard %q: a line paced past the shutdown was run", line)
		}
	}
}

// A client that sends over-long lines and reads none of the replies is
// paused, as for any other line, not dropped.
func TestLineTooLongRepliesPauseReading(t *testing.T) {
	const lines = 2000 // replies of about 140 KB: far more than the send queue
	l := newPipeListener()
	s := &Server{FloodRate: -1, MaxLine: 16, SendQueue: 4096}
	startServerOn(t, s, l)
	conn := l.dial()
	t.Cleanup(func() { conn.Close() })

	sent := make(chan error, 1)
	go func() {
		for range lines {
			if _, err := io.WriteString(conn, strings.Repeat("x", 32)+"\n"); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	select {
	case err := <-sent:
		t.Fatalf("the server read all %d over-long lines while their replies went unread (write error: %v)", lines, err)
	case <-time.After(time.Second): // reading paused, as it should; the test only waits to catch the bug
	}
	c := &testConn{t: t, name: "long", conn: conn, lines: make(chan string, 4096)}
	go c.read()
	for i := range lines {
		if line := c.expect("^ERR "); !strings.HasPrefix(line, "ERR LINE_TOO_LONG ") {
			t.Fatalf("reply %d is %q, want ERR LINE_TOO_LONG", i, line)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if drops := s.Stats().Drops; drops != 0 {
		t.Errorf("%d clients dropped, want none", drops)
	}
}
