package clientcmd

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Registered nicks and operators (issue 26) against fake servers.

// The password given (-password-file) goes only after NICK_REGISTERED,
// and with the NICK of every reconnect; it is never shown.
func TestPasswordGivenAndReconnect(t *testing.T) {
	fake, out, typed, status := startChat(t, &chat{retries: -1, historyTimeout: time.Hour, password: "correct horse"})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("ERR NICK_REGISTERED the nick duck is registered: NICK duck <password>", "ERR NOT_REGISTERED say NICK <name> first")
	fake.next("NICK duck correct horse")
	fake.send("JOINED duck")
	fake.next("LIST")
	fake.send("LIST duck")
	at := out.await(t, 0, `^1 user: duck$`)

	fake.conn.Close()
	fake = acceptClient(t, fake.l)
	fake.next("NICK duck correct horse")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "ERR UNKNOWN_COMMAND unknown command HISTORY")
	fake.next("LIST")
	fake.send("LIST duck")
	out.await(t, at, `^\* reconnected as duck$`)

	typed.Close()
	fake.next("QUIT")
	fake.send("BYE goodbye")
	awaitStatus(t, status, 0)
	out.none(t, `horse|registered|warning`) // loopback: no warning
}

// Without a password and without a terminal, a registered nick ends the
// client, which says how to give one.
func TestPasswordMissing(t *testing.T) {
	fake, out, _, status := startChat(t, &chat{})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("ERR NICK_REGISTERED the nick duck is registered: NICK duck <password>")
	awaitStatus(t, status, 1)
	out.none(t, `registered|password`) // said on stderr
}

// Kicked, the client says so and does not reconnect, though it may.
func TestKickedNoReconnect(t *testing.T) {
	fake, out, _, status := startChat(t, &chat{retries: -1, historyTimeout: time.Hour})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "ERR UNKNOWN_COMMAND unknown command HISTORY")
	fake.next("LIST")
	fake.send("LIST duck", "BYE kicked by op: spam")
	fake.conn.Close()
	out.await(t, 0, `^\* you were kicked by op \(spam\)$`)
	awaitStatus(t, status, 1)
	out.none(t, `reconnecting|disconnected`)
}

// Banned on connecting, the client says so and does not reconnect, on a
// terminal too.
func TestBannedAddressNoReconnect(t *testing.T) {
	fake, out, _, status := startChat(t, &chat{retries: -1, historyTimeout: time.Hour, d: &plainDisplay{tty: true}})
	fake.send("ERR BANNED 2026-12-04T18:30:00Z flooding", "BYE banned")
	fake.conn.Close()
	out.await(t, 0, `^You are banned until 2026-12-04 18:30:00 UTC: flooding\.$`)
	awaitStatus(t, status, 1)
	out.none(t, `reconnecting`)
}

// An operator's commands and the replies, as the client shows them.
func TestOperatorCommands(t *testing.T) {
	fake, out, typed, status := startChat(t, &chat{historyTimeout: time.Hour})
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "ERR UNKNOWN_COMMAND unknown command HISTORY")
	fake.next("LIST")
	fake.send("LIST ann duck")
	at := out.await(t, 0, `^2 users: ann, duck$`)
	type step struct{ typed, sent, reply, shown string }
	for _, s := range []step{
		{"/kick ann spam", "KICK ann spam", "ERR NOT_OPERATOR only operators may do that", `^Only operators may do that\.$`},
		{"/oper root s3cret pass", "OPER root s3cret pass", "OPER root", `^\* you are an operator, as root$`},
		{"/kick ann spam", "KICK ann spam", "KICKED ann\r\nLEFT ann kicked by duck: spam", `^\* ann was kicked by duck \(spam\)$`},
		{"/ban 192.0.2.0/24 2h flood", "BAN 192.0.2.0/24 2h flood", "BANNED 192.0.2.0/24 2026-12-04T18:30:00Z", `^\* 192\.0\.2\.0/24 is banned until 2026-12-04 18:30:00 UTC$`},
		{"/bans", "BANS", "BANS 192.0.2.0/24 2026-12-04T18:30:00Z duck flood\r\nBANS bob forever duck\r\nBANS END 2", `^  bob for good, by duck$`},
		{"/unban bob", "UNBAN bob", "UNBANNED bob", `^\* bob is no longer banned$`},
		{"/mute cid 30m", "MUTE cid 30m", "MUTED cid forever", `^\* cid is muted for good$`},
		{"/unmute cid", "UNMUTE cid", "UNMUTED cid", `^\* cid is no longer muted$`},
		{"hello", "MSG hello", "ERR MUTED 2026-12-04T18:30:00Z", `^You are muted until 2026-12-04 18:30:00 UTC: not sent\.$`},
	} {
		typed.Write([]byte(s.typed + "\n"))
		fake.next(s.sent)
		fake.send(s.reply)
		at = out.await(t, at, s.shown)
	}
	out.await(t, 0, `^2 bans:$`)
	out.await(t, 0, `^  192\.0\.2\.0/24 until 2026-12-04 18:30:00 UTC, by duck: flood$`)
	out.await(t, 0, `^\* you kicked ann$`)

	typed.Close()
	fake.next("QUIT")
	fake.send("BYE goodbye")
	awaitStatus(t, status, 0)
	out.none(t, `s3cret`)
}

// A password sent without TLS to an address that is not loopback is
// warned of, once.
func TestPasswordInClearWarned(t *testing.T) {
	ip := nonLoopback(t)
	l := listen(t, net.JoinHostPort(ip, "0"))
	c := &chat{historyTimeout: time.Hour}
	fake, out, typed, status := startChatOn(t, c, l)
	fake.next("NICK duck")
	fake.next("HISTORY LIVE")
	fake.send("JOINED duck", "ERR UNKNOWN_COMMAND unknown command HISTORY")
	fake.next("LIST")
	typed.Write([]byte("/register correct horse\n"))
	at := out.await(t, 0, `^\* warning: sending a password without TLS to `+l.Addr().String()+`$`)
	fake.next("REGISTER correct horse")
	fake.send("REGISTERED duck")
	at = out.await(t, at, `^\* you registered the nick duck$`)
	typed.Write([]byte("/password correct battery staple\n"))
	fake.next("PASSWORD correct battery staple")
	fake.send("PASSWORD duck changed")
	out.await(t, at, `^\* the password of duck is changed$`)
	typed.Close()
	fake.next("QUIT")
	fake.send("BYE goodbye")
	awaitStatus(t, status, 0)
	if n := out.count(`warning`); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	out.none(t, `horse|staple`)
}

// nonLoopback returns an address of this machine that is not loopback,
// or skips the test.
func nonLoopback(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	t.Skip("no address but loopback")
	return ""
}

func TestInClear(t *testing.T) {
	for _, tt := range []struct {
		ip   string
		tls  bool
		want bool
	}{
		{"127.0.0.1", false, false},
		{"127.9.9.9", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, false},
		{"192.0.2.1", false, true},
		{"2001:db8::1", false, true},
		{"192.0.2.1", true, false},
	} {
		addr := &net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 12000}
		if got := inClear(addr, tt.tls); got != tt.want {
			t.Errorf("inClear(%v, %v) = %v, want %v", addr, tt.tls, got, tt.want)
		}
	}
}

func TestSuppliedPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("IRCISH_PASSWORD", "from the environment")
	for _, tt := range []struct {
		file, want, err string
	}{
		{"", "from the environment", ""},
		{write("a", "correct horse\n"), "correct horse", ""},
		{write("b", "correct horse\r\nsecond line\n"), "correct horse", ""},
		{write("c", " spaced  "), " spaced  ", ""},
		{write("d", "\nx"), "", "no password on the first line of the password file " + filepath.Join(dir, "d")},
		{filepath.Join(dir, "none"), "", "cannot read the password file: open " + filepath.Join(dir, "none") + ": no such file or directory"},
	} {
		got, err := suppliedPassword(tt.file)
		errText := ""
		if err != nil {
			errText = err.Error()
		}
		if got != tt.want || errText != tt.err {
			t.Errorf("suppliedPassword(%q) = %q, %q; want %q, %q", tt.file, got, errText, tt.want, tt.err)
		}
	}
}

// On a terminal, a registered nick's password is asked for: nothing
// typed shows, and it is not in the input history, nor is a /password
// line.
func TestTerminalAsksPassword(t *testing.T) {
	t.Setenv("TERM", "xterm")
	t.Setenv("NO_COLOR", "1")
	t.Setenv("IRCISH_PASSWORD", "")
	l := listen(t, "127.0.0.1:0")
	serve(t, l)
	ann, awaitLine := join(t, l.Addr().String(), "ann")
	ann.Write([]byte("REGISTER correct-horse\r\nQUIT\r\n"))
	awaitLine("REGISTERED ann")
	awaitLine("BYE goodbye")
	ptmx, tty, scr := openPty(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	status := make(chan int, 1)
	go func() { status <- Main([]string{"ann", "127.0.0.1", port}, tty, tty, tty) }()
	at := scr.await(t, 0, "type its password")
	at = scr.await(t, at, "password for ann: ")
	ptmx.Write([]byte("correct-horse\r"))
	at = scr.await(t, at, "* you have joined as ann")
	at = scr.await(t, at, prompt)

	ptmx.Write([]byte("/password correct-horse battery staple\r"))
	at = scr.await(t, at, "* the password of ann is changed")
	ptmx.Write([]byte("hello\r"))
	at = scr.await(t, at, "*<ann> hello")
	ptmx.Write([]byte("\x1b[A\x1b[A")) // up twice: "hello", then nothing older
	at = scr.await(t, at, "hello")
	ptmx.Write([]byte("\x15")) // Ctrl-U: clear the line
	quit(t, ptmx, status)
	scr.mu.Lock()
	defer scr.mu.Unlock()
	if i := bytes.Index(scr.out, []byte("correct-horse")); i >= 0 && i < bytes.Index(scr.out, []byte("/password")) {
		t.Errorf("the terminal shows the password typed: %q", scr.out)
	}
	if bytes.Contains(scr.out[at:], []byte("/password")) {
		t.Errorf("the input history holds the /password line: %q", scr.out[at:])
	}
}
