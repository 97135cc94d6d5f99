package clientcmd

import (
	"bufio"
	"bytes"
	"context"
	"ircish/ircish/server"
	"net"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

const ptyTimeout = 10 * time.Second

// screen collects what the client writes to its terminal, and answers the
// cursor position queries readline sends before each prompt, as a
// terminal would.
type screen struct {
	ptmx *os.File

	mu      sync.Mutex
	out     []byte
	asked   int // position queries answered
	changed chan struct{}
}

func (s *screen) read() {
	buf := make([]byte, 4096)
	for {
		n, err := s.ptmx.Read(buf)
		s.mu.Lock()
		s.out = append(s.out, buf[:n]...)
		queries := bytes.Count(s.out, []byte("\x1b[6n"))
		for ; s.asked < queries; s.asked++ {
			s.ptmx.Write([]byte("\x1b[1;1R"))
		}
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// await waits until what was written from offset from on holds want, and
// returns the offset just after it.
func (s *screen) await(t *testing.T, from int, want string) int {
	t.Helper()
	deadline := time.After(ptyTimeout)
	for {
		s.mu.Lock()
		i := bytes.Index(s.out[from:], []byte(want))
		out, changed := string(s.out), s.changed
		s.mu.Unlock()
		if i >= 0 {
			return from + i + len(want)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waited %v for the terminal to show %q after offset %d; it shows %q", ptyTimeout, want, from, out)
		}
	}
}

// TestTerminalKeepsHalfTypedLine runs the client on a pseudo-terminal: a
// message arriving while a line is half typed is shown above the prompt,
// the half-typed text is redrawn and stays intact, and the finished line
// goes out whole. On /quit the terminal is as it was.
func TestTerminalKeepsHalfTypedLine(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "1")

	l := listen(t, "127.0.0.1:0")
	serve(t, l)
	ptmx, tty, scr := openPty(t)
	before, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	alice, awaitLine := join(t, l.Addr().String(), "alice")

	_, port, _ := net.SplitHostPort(l.Addr().String())
	status := make(chan int, 1)
	go func() { status <- Main([]string{"duck", "127.0.0.1", port}, tty, tty, tty) }()
	awaitLine("JOINED duck")
	at := scr.await(t, 0, "2 users: alice, duck")
	at = scr.await(t, at, prompt)

	ptmx.Write([]byte("hel"))
	at = scr.await(t, at, "hel")
	alice.Write([]byte("MSG surprise\r\n"))
	// A line ends in \r\n, or \r\r\n if the terminal is between raw modes
	// and turns \n into \r\n itself.
	at = scr.await(t, at, "<alice> surprise\r")
	scr.await(t, at, "hel") // the prompt and the half-typed line, redrawn

	ptmx.Write([]byte("lo\r"))
	awaitLine("MSG duck hello")
	scr.await(t, at, "*<duck> hello\r") // ours, marked without colour

	quit(t, ptmx, status)
	after, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the terminal's state after /quit differs from before: %+v, want %+v", after, before)
	}
}

// The half-typed line stays through a lost connection and the reconnect
// that follows: the server stops, another starts on its port, and the
// line, finished, goes to the new one.
func TestTerminalKeepsHalfTypedLineAcrossReconnect(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "1")
	l := listen(t, "127.0.0.1:0")
	first := serve(t, l)
	ptmx, tty, scr := openPty(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	status := make(chan int, 1)
	go func() { status <- Main([]string{"duck", "127.0.0.1", port}, tty, tty, tty) }()
	at := scr.await(t, 0, "1 user: duck")
	at = scr.await(t, at, prompt)
	ptmx.Write([]byte("hel"))
	at = scr.await(t, at, "hel")

	ctx, cancel := context.WithTimeout(context.Background(), ptyTimeout)
	defer cancel()
	first.Shutdown(ctx)
	at = scr.await(t, at, "reconnecting…")
	second := listen(t, l.Addr().String())
	serve(t, second)
	_, awaitLine := join(t, second.Addr().String(), "alice")
	at = scr.await(t, at, "* reconnected as duck")
	scr.await(t, at, "hel") // redrawn with the prompt

	ptmx.Write([]byte("lo\r"))
	awaitLine("MSG duck hello")
	quit(t, ptmx, status)
}

// quit types /quit and waits for Main to return 0.
func quit(t *testing.T, ptmx *os.File, status <-chan int) {
	t.Helper()
	ptmx.Write([]byte("/quit\r"))
	select {
	case code := <-status:
		if code != 0 {
			t.Errorf("Main returned %d after /quit, want 0", code)
		}
	case <-time.After(ptyTimeout):
		t.Fatalf("Main still runs %v after /quit", ptyTimeout)
	}
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serve serves a room on l until the test ends.
func serve(t *testing.T, l net.Listener) *server.Server {
	srv := &server.Server{}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ptyTimeout)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv
}

// openPty opens a pseudo-terminal of 24 by 80, and a screen reading it.
func openPty(t *testing.T) (ptmx, tty *os.File, scr *screen) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	scr = &screen{ptmx: ptmx, changed: make(chan struct{})}
	go scr.read()
	return ptmx, tty, scr
}

// join registers nick on the server at addr with a raw connection, and
// returns it and a function that waits for a line from the server.
func join(t *testing.T, addr, nick string) (conn net.Conn, awaitLine func(want string)) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	lines := bufio.NewScanner(conn)
	conn.Write([]byte("NICK " + nick + "\r\n"))
	awaitLine = func(want string) {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(ptyTimeout))
		var seen []string
		for lines.Scan() {
			if lines.Text() == want {
				return
			}
			seen = append(seen, lines.Text())
		}
		t.Fatalf("%s waited for %q: %v; got %q", nick, want, lines.Err(), seen)
	}
	awaitLine("JOINED " + nick)
	return conn, awaitLine
}
