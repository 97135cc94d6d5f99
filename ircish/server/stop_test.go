package server

import (
	"context"
	"fmt"
	"io"
	"ircish/internal/chattest"
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
	s := &Server{FloodRate: 0.1, FloodBurst: burst, WriteTimeout: 200 * time.Millisecond}
	addr := startServerOn(t, s, listenSmallSendBuffers(t))
	alice := chattest.Register(t, addr, "alice")
	slow := dialTinyReceiveBuffer(t, addr)
	if _, err := io.WriteString(slow, pacedLines("slow", 2*burst)); err != nil {
		t.Fatal(err)
	}
	// Its burst is spent; its next line waits 10 s for its turn.
	alice.Expect(fmt.Sprintf("^MSG slow slow %d$", burst-2))
	talker := chattest.Register(t, addr, "talker")
	pad := strings.Repeat("x", 4000)
	for range burst - 1 { // far more than slow's sockets hold
		talker.Send("MSG " + pad)
	}
	line := alice.Expect("^(LEFT slow .*|MSG slow .*)$")
	if line != "LEFT slow write timeout" {
		t.Fatalf("alice saw %q after slow stopped reading, want LEFT slow write timeout", line)
	}
	if dropped := s.Stats().Dropped; dropped["write_timeout"] != 1 {
		t.Errorf("clients dropped by cause: %v, want write_timeout: 1", dropped)
	}
}

// Shutdown ends at once although a client has many lines buffered and is
// waiting for its flood limit: the wait ends, and its lines are not run.
func TestShutdownWakesAPacedClient(t *testing.T) {
	s := &Server{FloodRate: 0.1, FloodBurst: 2}
	addr := startServer(t, s)
	alice := chattest.Register(t, addr, "alice")
	paced := chattest.Dial(t, addr, "paced")
	paced.Send(strings.TrimSuffix(pacedLines("paced", 100), "\n"))
	paced.Expect("^ERR FLOOD ")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want it to end within its grace", err)
	}
	paced.Expect("^BYE the server is shutting down$")
	alice.Expect("^BYE the server is shutting down$")
	for _, line := range alice.Seen {
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
	c := chattest.NewConn(t, "long", conn)
	for i := range lines {
		if line := c.Expect("^ERR "); !strings.HasPrefix(line, "ERR LINE_TOO_LONG ") {
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
