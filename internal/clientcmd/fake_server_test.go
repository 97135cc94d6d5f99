package clientcmd

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The chat loop against fake servers of protocol version 1 that the tests
// play by hand, line by line, with its waits shortened.

// A server without HISTORY that ignores it, and is slow to answer the
// LIST after it: the client shows the live message when its wait for the
// server's word on HISTORY ends, and asks for no history.
func TestServerIgnoresHistoryAndIsSlow(t *testing.T) {
	fake, out, typed, status := startChat(t, &chat{historyTimeout: time.Millisecond})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("WELCOME welcome to ircish! Say NICK <name> to join, HELP for help.", "JOINED duck")
	fake.next("LIST")
	fake.send("MSG mallory live words")
	at := out.await(t, 0, `^<mallory> live words$`)
	fake.send("LIST duck mallory")
	out.await(t, at, `^2 users: duck, mallory$`)

	typed.Close()
	fake.next("QUIT") // and no HISTORY before it
	fake.send("BYE goodbye")
	awaitStatus(t, status, 0)
	out.none(t, `Say NICK|HISTORY|did not understand`)
}

// Back after a lost connection, the client finds its nick still held and
// asks for it again and again: it says so once, and once when it is back.
// The server it finds refuses HISTORY, which the user does not hear of.
func TestNickHeldSaidOnce(t *testing.T) {
	fake, out, typed, status := startChat(t, &chat{retries: -1, nickRetryAfter: time.Millisecond, historyTimeout: time.Hour})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "HISTORY LIVE")
	fake.next("LIST")
	fake.next("HISTORY 50")
	fake.send("LIST duck", "HISTORY END 0")
	out.await(t, 0, `^1 user: duck$`)

	fake.conn.Close()
	fake = acceptClient(t, fake.l)
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("ERR NICK_IN_USE the nick duck is taken", "ERR NOT_REGISTERED say NICK <name> first")
	for range 3 {
		fake.next("NICK duck")
		fake.send("ERR NICK_IN_USE the nick duck is taken")
	}
	fake.next("NICK duck")
	fake.send("JOINED duck")
	fake.next("LIST")
	fake.send("LIST duck")
	at := out.await(t, 0, `^\* the nick duck is still taken, likely by our lost connection; waiting up to 15s for it$`)
	at = out.await(t, at, `^\* reconnected as duck$`)
	out.await(t, at, `^1 user: duck$`)

	typed.Close()
	fake.next("QUIT")
	fake.send("BYE goodbye")
	awaitStatus(t, status, 0)
	if n := out.count(`still taken`); n != 1 {
		t.Errorf("%d lines say the nick is still taken, want 1:\n%s", n, out)
	}
	out.none(t, `HISTORY|did not understand|Choose a nick`)
}

// The server ends the connection while the client awaits a HISTORY
// reply: the live lines held for it are shown before the goodbye.
func TestHeldLinesShownAtBye(t *testing.T) {
	fake, out, _, status := startChat(t, &chat{historyTimeout: time.Hour})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "HISTORY LIVE")
	fake.next("LIST")
	fake.next("HISTORY 50")
	fake.send("HISTORY 8 2026-11-28T09:15:02.008Z ann bye all", "BYE the server is shutting down")
	fake.conn.Close()
	at := out.await(t, 0, `^<ann> bye all$`)
	out.await(t, at, `^\* disconnected: the server is shutting down$`)
	awaitStatus(t, status, 1)
}

// startChat runs c as duck, with -history 50, against a fake server on
// 127.0.0.1, which it lists twice so that c reconnects to it at once. It
// returns the server's end of the connection, the client's output, its
// input and where its exit status comes.
func startChat(t *testing.T, c *chat) (fake *fakeConn, out *lineLog, typed io.WriteCloser, status <-chan int) {
	return startChatOn(t, c, listen(t, "127.0.0.1:0"))
}

// startChatOn is startChat with the fake server on l.
func startChatOn(t *testing.T, c *chat, l net.Listener) (fake *fakeConn, out *lineLog, typed io.WriteCloser, status <-chan int) {
	t.Cleanup(func() { l.Close() })
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	stdin, typed := io.Pipe()
	t.Cleanup(func() { typed.Close() })
	out = newLineLog()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the client wrote:\n%s", out)
		}
	})
	c.addrs = []string{l.Addr().String(), l.Addr().String()}
	d, _ := c.d.(*plainDisplay) // one set already says if a person types
	if d == nil {
		d = &plainDisplay{}
	}
	d.in, d.out = stdin, out
	c.d = d
	done := make(chan int, 1)
	go func() {
		code, _ := c.run(conn, "duck", 50, nil)
		done <- code
	}()
	return acceptClient(t, l), out, typed, done
}

// awaitStatus waits for the chat's exit status, and checks it.
func awaitStatus(t *testing.T, status <-chan int, want int) {
	t.Helper()
	select {
	case code := <-status:
		if code != want {
			t.Errorf("the chat ended with status %d, want %d", code, want)
		}
	case <-time.After(ptyTimeout):
		t.Fatalf("the chat still runs %v after it should have ended", ptyTimeout)
	}
}

// A fakeConn is a fake server's end of a client's connection.
type fakeConn struct {
	t     *testing.T
	l     net.Listener
	conn  net.Conn
	lines *bufio.Scanner
}

// acceptClient waits for the client's next connection to l.
func acceptClient(t *testing.T, l net.Listener) *fakeConn {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(ptyTimeout))
	conn, err := l.Accept()
	if err != nil {
		t.Fatalf("waited %v for the client to connect: %v", ptyTimeout, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fakeConn{t: t, l: l, conn: conn, lines: bufio.NewScanner(conn)}
}

// next checks that the client's next line is want.
func (f *fakeConn) next(want string) {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(ptyTimeout))
	if !f.lines.Scan() {
		f.t.Fatalf("waited for the client to send %q: %v", want, f.lines.Err())
	}
	if got := f.lines.Text(); got != want {
		f.t.Fatalf("the client sent %q, want %q", got, want)
	}
}

// send sends lines to the client.
func (f *fakeConn) send(lines ...string) {
	f.t.Helper()
	if _, err := io.WriteString(f.conn, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
		f.t.Fatal(err)
	}
}

// A lineLog is what a client writes, which tests wait on line by line.
// It is safe to use from any goroutine.
type lineLog struct {
	mu      sync.Mutex
	buf     strings.Builder
	changed chan struct{} // closed and replaced at each write
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the whole lines written so far.
func (l *lineLog) lines() []string {
	s := l.String()
	return strings.Split(s[:strings.LastIndex(s, "\n")+1], "\n")
}

// await waits for a line matching expr among the lines from the one
// numbered from, and returns the number of the line after it.
func (l *lineLog) await(t *testing.T, from int, expr string) int {
	t.Helper()
	re := regexp.MustCompile(expr)
	deadline := time.After(ptyTimeout)
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		lines := l.lines()
		for i := from; i < len(lines); i++ {
			if re.MatchString(lines[i]) {
				return i + 1
			}
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited %v for a line matching %q after line %d; the client wrote:\n%s", ptyTimeout, expr, from, l)
		}
	}
}

// count returns how many lines written match expr.
func (l *lineLog) count(expr string) int {
	re := regexp.MustCompile(expr)
	n := 0
	for _, line := range l.lines() {
		if re.MatchString(line) {
			n++
		}
	}
	return n
}

// none checks that no line written matches expr.
func (l *lineLog) none(t *testing.T, expr string) {
	t.Helper()
	if n := l.count(expr); n > 0 {
		t.Errorf("%d lines written match %q, want none:\n%s", n, expr, l)
	}
}
