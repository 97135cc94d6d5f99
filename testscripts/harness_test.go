package testscripts

// The harness: the commands scenarios have beyond testscript's own. A script
// talks to peers by name: raw protocol connections (connect) and processes
// (serve starts the server, which is the peer "server"; spawn starts any
// other). Each peer's incoming lines are collected by a goroutine of its
// own into a lineBuf; the script reads them in order with expect, next,
// quiet and closed, which wait with a timeout and never sleep.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"ircish/internal/natstest"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"
)

// timeoutVar names the environment variable holding how long a command
// waits for a line, a connection or an exit (a Go duration). Set in the
// test's environment, it applies to every script; a script may set its own.
const timeoutVar = "IRCISH_TEST_TIMEOUT"

const defaultTimeout = 10 * time.Second

// A harnessCommand is one of the harness's script commands. None of them
// takes "!": each checks what it is told to, and quiet is the negative of
// expect.
type harnessCommand struct {
	usage    string
	min, max int // arguments; max -1: any number
	run      func(h *harness, ts *testscript.TestScript, args []string)
}

// harnessCommands are all the harness's commands: here those of every
// scenario, in hardening_harness_test.go those of the hardening scenarios,
// in client_harness_test.go the fake server's.
var harnessCommands = map[string]harnessCommand{
	"serve":    {serveUsage, 0, -1, (*harness).serve},
	"shutdown": {shutdownUsage, 0, 5, (*harness).shutdown},
	"connect":  {connectUsage, 1, -1, (*harness).connect},
	"join":     {"join NAME [addr]", 1, 2, (*harness).join},
	"send":     {"send NAME TEXT...", 2, -1, (*harness).send},
	"sendraw":  {"sendraw NAME STRING", 2, 2, (*harness).sendraw},
	"sendbig":  {"sendbig NAME BYTES [EOL]", 2, 3, (*harness).sendbig},
	"expect":   {"expect NAME REGEXP", 2, 2, (*harness).expect},
	"next":     {"next NAME REGEXP", 2, 2, (*harness).next},
	"quiet":    {"quiet NAME REGEXP", 2, 2, (*harness).quiet},
	"close":    {"close NAME", 1, 1, (*harness).close},
	"reset":    {"reset NAME", 1, 1, (*harness).reset},
	"closed":   {"closed NAME", 1, 1, (*harness).closed},
	"spawn":    {"spawn NAME PROG [ARGS...]", 2, -1, (*harness).spawn},
	"type":     {"type NAME TEXT...", 2, -1, (*harness).typeLine},
	"eof":      {"eof NAME", 1, 1, (*harness).eof},
	"exited":   {"exited NAME [status]", 1, 2, (*harness).exited},

	"read":     {"read NAME", 1, 1, (*harness).read},
	"ends":     {"ends NAME REGEXP", 2, 2, (*harness).ends},
	"signal":   {"signal NAME HUP|INT|TERM", 2, 2, (*harness).signal},
	"gencert":  {"gencert DIR", 1, 1, (*harness).gencert},
	"capture":  {"capture NAME VAR REGEXP", 3, 3, (*harness).capture},
	"sendseq":  {"sendseq NAME COUNT FORMAT", 3, 3, (*harness).sendseq},
	"nextseq":  {"nextseq NAME COUNT FORMAT", 3, 3, (*harness).nextseq},
	"count":    {"count NAME N REGEXP", 3, 3, (*harness).count},
	"seen":     {"seen NAME REGEXP", 2, 2, (*harness).seen},
	"waitfile": {"waitfile FILE REGEXP", 2, 2, (*harness).waitfile},

	"listen": {"listen NAME", 1, 1, (*harness).listen},
	"accept": {"accept NAME", 1, 1, (*harness).accept},

	"nats":      {natsUsage, 1, 2, (*harness).nats},
	"collect":   {"collect NAME N REGEXP", 3, 3, (*harness).collect},
	"sameorder": {"sameorder REGEXP NAME NAME...", 3, -1, (*harness).sameorder},
}

// scriptCommands returns the harness's commands for testscript.Params.Cmds.
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := make(map[string]func(*testscript.TestScript, bool, []string))
	for name, c := range harnessCommands {
		cmds[name] = func(ts *testscript.TestScript, neg bool, args []string) {
			if neg {
				ts.Fatalf("unsupported: ! %s", name)
			}
			if len(args) < c.min || c.max >= 0 && len(args) > c.max {
				ts.Fatalf("usage: %s", c.usage)
			}
			c.run(ts.Value(harnessKey{}).(*harness), ts, args)
		}
	}
	return cmds
}

type harnessKey struct{}

// A harness is one script's peers. It is used by the script's goroutine
// only; the peers' goroutines touch only their lineBufs and exit channels.
type harness struct {
	peers     map[string]*peer
	envNames  []string                // of the script's environment at its start
	pings     int                     // PINGs sent by quiet, for unique tokens
	unread    map[*peer]net.Conn      // connect -noread connections not yet read
	listeners map[string]net.Listener // the fake servers, by name
	clustered bool                    // every server joins natsd
	natsd     []*natstest.Node        // the script's NATS servers, once started
}

// setupHarness returns the testscript Setup: it gives the script a harness
// and ends every connection and process of it when the script ends. With
// clustered, every server the script starts joins a NATS server.
func setupHarness(clustered bool) func(e *testscript.Env) error {
	return func(e *testscript.Env) error { return setup(e, clustered) }
}

func setup(e *testscript.Env, clustered bool) error {
	if v := os.Getenv(timeoutVar); v != "" {
		e.Setenv(timeoutVar, v)
	}
	if os.Getenv("GORACE") == "" {
		// A program built with -race sleeps 1s as it exits, unless told.
		e.Setenv("GORACE", "atexit_sleep_ms=10")
	}
	h := &harness{peers: make(map[string]*peer), unread: make(map[*peer]net.Conn), listeners: make(map[string]net.Listener), clustered: clustered}
	for _, kv := range e.Vars {
		name, _, _ := strings.Cut(kv, "=")
		h.envNames = append(h.envNames, name)
	}
	e.Values[harnessKey{}] = h
	e.Defer(h.cleanup)
	return nil
}

func (h *harness) cleanup() {
	for _, n := range h.natsd {
		defer n.Shutdown() // after the servers: they leave it first
	}
	for _, l := range h.listeners {
		l.Close()
	}
	for _, p := range h.peers {
		if p.conn != nil {
			p.conn.Close()
		}
		if p.cmd != nil {
			select {
			case <-p.exited:
			default:
				p.cmd.Process.Kill()
				<-p.exited // bounded by cmd.WaitDelay
			}
		}
	}
}

// A peer is what the script talks to by name: a connection or a process.
type peer struct {
	name  string
	lines *lineBuf
	w     io.Writer // where send and type write: the connection or stdin

	conn net.Conn // a connection, or else:

	cmd    *exec.Cmd
	stdin  io.Closer     // nil for the server
	exited chan struct{} // closed once cmd has exited
}

func (h *harness) timeout(ts *testscript.TestScript) time.Duration {
	v := ts.Getenv(timeoutVar)
	if v == "" {
		return defaultTimeout
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		ts.Fatalf("%s=%q: want a positive duration such as 10s", timeoutVar, v)
	}
	return d
}

func (h *harness) add(ts *testscript.TestScript, p *peer) {
	if _, dup := h.peers[p.name]; dup {
		ts.Fatalf("there is a peer named %s already", p.name)
	}
	h.peers[p.name] = p
}

func (h *harness) peer(ts *testscript.TestScript, name string) *peer {
	p, ok := h.peers[name]
	if !ok {
		ts.Fatalf("no connection or process named %s", name)
	}
	return p
}

func (h *harness) connection(ts *testscript.TestScript, name string) *peer {
	p := h.peer(ts, name)
	if p.conn == nil {
		ts.Fatalf("%s is a process, not a connection", name)
	}
	return p
}

func (h *harness) process(ts *testscript.TestScript, name string) *peer {
	p := h.peer(ts, name)
	if p.cmd == nil {
		ts.Fatalf("%s is a connection, not a process", name)
	}
	return p
}

// serve starts the server command in the background, in the current
// directory, listening on 127.0.0.1 and a port it picks (or the one after
// -port, to start a server again where one was), with the given flags and
// -log-flush 0, so that a record is in server.log as soon as it is logged
// (a later -log-flush flag overrides that). It waits for the server to say
// where it listens and sets ADDR (host:port) and PORT. The server's stderr
// lines can be read as the peer named "server", or NAME after -as NAME,
// which also sets ADDR_NAME and PORT_NAME; they become shutdown's stderr.
// In the clustered run of the scripts (see cluster_harness_test.go), every
// server joins the script's NATS server, which serve starts if need be.
func (h *harness) serve(ts *testscript.TestScript, args []string) {
	name, port := "server", "0"
	for len(args) >= 2 && (args[0] == "-as" || args[0] == "-port") {
		if args[0] == "-as" {
			name = args[1]
		} else {
			port = args[1]
		}
		args = args[2:]
	}
	if old, ok := h.peers[name]; ok {
		select {
		case <-old.exited:
			delete(h.peers, name)
		default:
			ts.Fatalf("a server %s is running already", name)
		}
	}
	args = append([]string{"-host", "127.0.0.1", "-log-flush", "0"}, args...)
	if h.clustered && !slices.Contains(args, "-nats") {
		args = append(args, "-nats", h.natsURL(ts))
	}
	p := h.start(ts, name, "server", append(args, port), false)
	line := h.await(ts, p, "a line matching "+strconv.Quote(`^listening on \S+$`), func(line string) bool {
		return strings.HasPrefix(line, "listening on ")
	})
	addr := strings.TrimPrefix(line, "listening on ")
	_, portNum, err := net.SplitHostPort(addr)
	ts.Check(err)
	ts.Setenv("ADDR", addr)
	ts.Setenv("PORT", portNum)
	if name != "server" {
		ts.Setenv("ADDR_"+name, addr)
		ts.Setenv("PORT_"+name, portNum)
	}
}

const serveUsage = "serve [-as NAME] [-port PORT] [flags...]"

const shutdownUsage = "shutdown [-as NAME] [-signal INT|TERM|KILL] [status]"

var signals = map[string]os.Signal{"INT": os.Interrupt, "TERM": syscall.SIGTERM, "KILL": os.Kill}

// shutdown signals the server (or server NAME), with SIGINT unless told
// -signal TERM or KILL (after which its status is -1), waits for it to exit
// and checks its exit status (default 0). The server's stderr becomes the
// command's, for the stderr command to check. (It is not called stop: that
// is testscript's command to end a script early.)
func (h *harness) shutdown(ts *testscript.TestScript, args []string) {
	name, sig := "server", os.Interrupt
	for len(args) >= 2 && (args[0] == "-as" || args[0] == "-signal") {
		if args[0] == "-as" {
			name = args[1]
		} else if sig = signals[args[1]]; sig == nil {
			ts.Fatalf("usage: %s", shutdownUsage)
		}
		args = args[2:]
	}
	if len(args) > 1 {
		ts.Fatalf("usage: %s", shutdownUsage)
	}
	p := h.process(ts, name)
	ts.Check(p.cmd.Process.Signal(sig))
	h.waitExit(ts, p, args)
	for _, line := range p.lines.all() {
		fmt.Fprintln(ts.Stderr(), line)
	}
}

// readInto copies conn's lines into lines until the connection ends. With
// cutOK, a last line cut short is no failure but part of why the lines
// ended: a server that drops a client does that.
func readInto(lines *lineBuf, conn net.Conn, cutOK bool) {
	_, err := io.Copy(lines, conn)
	switch {
	case err == nil:
		err = errEOF
	case errors.Is(err, net.ErrClosed):
		err = errClosedHere
	}
	if cutOK {
		lines.mu.Lock()
		if n := len(lines.partial); n > 0 {
			lines.partial = nil
			err = fmt.Errorf("%w, cutting the last line short after %d bytes", err, n)
		}
		lines.mu.Unlock()
	}
	lines.close(err)
}

// send sends a line to connection NAME: its arguments joined by single
// spaces, and LF.
func (h *harness) send(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	h.write(ts, p, strings.Join(args[1:], " ")+"\n")
}

// sendraw sends STRING to connection NAME, its Go escapes (\r, \n, \x00,
// \u00e4, ...) interpreted and nothing added: no implied newline.
func (h *harness) sendraw(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	h.write(ts, p, unescape(ts, args[1]))
}

// sendbig sends connection NAME, in one write, a line of BYTES bytes, MSG
// and a run of x, and its end: EOL, with Go escapes, by default \n.
func (h *harness) sendbig(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 5 {
		ts.Fatalf("sendbig: BYTES %q: want a number of at least 5", args[1])
	}
	eol := "\n"
	if len(args) == 3 {
		eol = unescape(ts, args[2])
	}
	h.write(ts, p, "MSG "+strings.Repeat("x", n-4)+eol)
}

// unescape interprets the Go escapes in s, as in a Go string literal
// (where " needs no escape).
func unescape(ts *testscript.TestScript, s string) string {
	var b []byte
	for s != "" {
		r, multibyte, tail, err := strconv.UnquoteChar(s, 0)
		if err != nil {
			ts.Fatalf("bad escape in %q: %v", s, err)
		}
		if multibyte {
			b = utf8.AppendRune(b, r)
		} else {
			b = append(b, byte(r))
		}
		s = tail
	}
	return string(b)
}

func (h *harness) write(ts *testscript.TestScript, p *peer, s string) {
	timeout := h.timeout(ts)
	if p.conn != nil {
		p.conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	if _, err := io.WriteString(p.w, s); err != nil {
		ts.Fatalf("%s: writing %d bytes (timeout %v): %v", p.name, len(s), timeout, err)
	}
}

// expect waits for a line from NAME that matches REGEXP, skipping lines
// that don't.
func (h *harness) expect(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[1])
	h.await(ts, p, "a line matching "+strconv.Quote(args[1]), re.MatchString)
}

// next checks that the next line from NAME matches REGEXP, waiting for it.
func (h *harness) next(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[1])
	h.await(ts, p, "a next line matching "+strconv.Quote(args[1]), func(line string) bool {
		if !re.MatchString(line) {
			ts.Fatalf("%s: the next line %s does not match %q\n%s", p.name, abbrev(line), args[1], p.lines.recent())
		}
		return true
	})
}

// quiet checks that no line matching REGEXP comes to connection NAME before
// the answer to a PING sent now: after the PONG, everything the server
// queued for NAME before it has arrived.
func (h *harness) quiet(ts *testscript.TestScript, args []string) {
	p, re := h.connection(ts, args[0]), compile(ts, args[1])
	h.pings++
	token := fmt.Sprintf("quiet-%d", h.pings)
	h.write(ts, p, "PING "+token+"\n")
	h.await(ts, p, "PONG "+token, func(line string) bool {
		if line == "PONG "+token {
			return true
		}
		if re.MatchString(line) {
			ts.Fatalf("%s: got %s, matching %q, before PONG %s\n%s", p.name, abbrev(line), args[1], token, p.lines.recent())
		}
		return false
	})
}

// close closes connection NAME.
func (h *harness) close(ts *testscript.TestScript, args []string) {
	ts.Check(h.connection(ts, args[0]).conn.Close())
}

// reset closes connection NAME with a TCP reset (RST), as a crashed client
// host may.
func (h *harness) reset(ts *testscript.TestScript, args []string) {
	conn := h.connection(ts, args[0]).conn.(*net.TCPConn)
	ts.Check(conn.SetLinger(0))
	ts.Check(conn.Close())
}

// closed waits for the server to close connection NAME; a line arriving
// first is a failure.
func (h *harness) closed(ts *testscript.TestScript, args []string) {
	p := h.connection(ts, args[0])
	start := time.Now()
	line, err := p.lines.next(time.After(h.timeout(ts)))
	switch {
	case err == nil:
		ts.Fatalf("%s: waited for the server to close the connection, but got %s\n%s", p.name, abbrev(line), p.lines.recent())
	case err != errEOF:
		ts.Fatalf("%s: waited %v for the server to close the connection: %v\n%s",
			p.name, time.Since(start).Round(time.Millisecond), err, p.lines.recent())
	}
}

// spawn starts PROG, found in $PATH, in the background as process NAME, in
// the current directory, with the environment the script started with plus
// ADDR and PORT. Its stdout and stderr lines are read by expect and next;
// type and eof write its stdin. It is killed when the script ends.
func (h *harness) spawn(ts *testscript.TestScript, args []string) {
	h.start(ts, args[0], args[1], args[2:], true)
}

// typeLine writes a line to process NAME's stdin: its arguments joined by
// single spaces, and LF. It is the command "type".
func (h *harness) typeLine(ts *testscript.TestScript, args []string) {
	p := h.process(ts, args[0])
	if p.stdin == nil {
		ts.Fatalf("%s has no stdin", p.name)
	}
	h.write(ts, p, strings.Join(args[1:], " ")+"\n")
}

// eof closes process NAME's stdin.
func (h *harness) eof(ts *testscript.TestScript, args []string) {
	p := h.process(ts, args[0])
	if p.stdin == nil {
		ts.Fatalf("%s has no stdin", p.name)
	}
	ts.Check(p.stdin.Close())
}

// exited waits for process NAME to exit and checks its status (default 0).
func (h *harness) exited(ts *testscript.TestScript, args []string) {
	h.waitExit(ts, h.process(ts, args[0]), args[1:])
}

func (h *harness) start(ts *testscript.TestScript, name, prog string, args []string, withStdin bool) *peer {
	cmd := exec.Command(prog, args...)
	cmd.Dir = ts.MkAbs(".")
	for _, k := range append(h.envNames, "ADDR", "PORT", "IRCISH_PASSWORD") {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	lines := new(lineBuf)
	cmd.Stdout, cmd.Stderr = lines, lines
	cmd.WaitDelay = h.timeout(ts)
	p := &peer{name: name, lines: lines, cmd: cmd, exited: make(chan struct{})}
	if withStdin {
		stdin, err := cmd.StdinPipe()
		ts.Check(err)
		p.w, p.stdin = stdin, stdin
	}
	ts.Check(cmd.Start())
	go func() {
		cmd.Wait()
		lines.close(errExited)
		close(p.exited)
	}()
	h.add(ts, p)
	return p
}

// waitExit waits for process p to exit and checks its exit status against
// args: none (0) or one.
func (h *harness) waitExit(ts *testscript.TestScript, p *peer, args []string) {
	want := 0
	if len(args) == 1 {
		var err error
		if want, err = strconv.Atoi(args[0]); err != nil {
			ts.Fatalf("status %q: want a number", args[0])
		}
	}
	timeout := h.timeout(ts)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		ts.Fatalf("%s: waited %v for the process to exit; it still runs\n%s", p.name, timeout, p.lines.recent())
	}
	if got := p.cmd.ProcessState.ExitCode(); got != want {
		ts.Fatalf("%s: %v, want exit status %d\n%s", p.name, p.cmd.ProcessState, want, p.lines.recent())
	}
}

// await reads lines from p until done accepts one, which it returns. It
// fails if none comes in time; what names what was awaited.
func (h *harness) await(ts *testscript.TestScript, p *peer, what string, done func(line string) bool) string {
	timeout := h.timeout(ts)
	start, deadline := time.Now(), time.After(timeout)
	for {
		line, err := p.lines.next(deadline)
		if err != nil {
			ts.Fatalf("%s: waited %v for %s: %v\n%s",
				p.name, time.Since(start).Round(time.Millisecond), what, err, p.lines.recent())
		}
		if done(line) {
			return line
		}
	}
}

func compile(ts *testscript.TestScript, expr string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		ts.Fatalf("bad regexp %q: %v", expr, err)
	}
	return re
}

// Why a peer's lines ended, or didn't come.
var (
	errEOF        = errors.New("the other end closed the connection")
	errClosedHere = errors.New("the script closed the connection")
	errExited     = errors.New("the process exited")
	errTimeout    = errors.New("timed out")
)

// A lineBuf collects the lines a peer receives, for the script to read in
// order. Its writer (a connection's reader goroutine, or os/exec copying a
// process's output) calls Write and close; the script calls the rest. All
// methods are safe to call from any goroutine.
type lineBuf struct {
	crlf bool // lines must end in CRLF, as the server's lines do

	mu      sync.Mutex
	partial []byte   // the start of a line
	lines   []string // without their terminators
	read    int      // lines[:read] have been read
	bad     string   // the first line not ending in CRLF, when crlf
	end     error    // why no more lines come, once none do
	changed chan struct{}
}

// Write adds the lines of p; a line may be split across calls.
func (b *lineBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.partial = append(b.partial, p...)
	for {
		i := bytes.IndexByte(b.partial, '\n')
		if i < 0 {
			break
		}
		b.add(b.partial[:i+1])
		b.partial = b.partial[i+1:]
	}
	return len(p), nil
}

// close records that no more lines come, and why.
func (b *lineBuf) close(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.partial) > 0 {
		b.add(b.partial)
		b.partial = nil
	}
	b.end = err
	b.notify()
}

// add adds raw, a line with its terminator if it has one. The caller holds
// b.mu.
func (b *lineBuf) add(raw []byte) {
	line, crlf := bytes.CutSuffix(raw, []byte("\r\n"))
	if !crlf {
		line = bytes.TrimSuffix(raw, []byte("\n"))
		if b.crlf && b.bad == "" {
			b.bad = string(raw)
		}
	}
	b.lines = append(b.lines, string(line))
	b.notify()
}

// notify wakes up next. The caller holds b.mu.
func (b *lineBuf) notify() {
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
}

// next returns the first unread line and marks it read, waiting for one
// until timeout fires. Once no more lines come it returns why.
func (b *lineBuf) next(timeout <-chan time.Time) (string, error) {
	for {
		b.mu.Lock()
		switch {
		case b.bad != "":
			b.mu.Unlock()
			return "", fmt.Errorf("the server sent %q, which does not end in CRLF", b.bad)
		case b.read < len(b.lines):
			line := b.lines[b.read]
			b.read++
			b.mu.Unlock()
			return line, nil
		case b.end != nil:
			b.mu.Unlock()
			return "", b.end
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-timeout:
			return "", errTimeout
		}
	}
}

// all returns every line received.
func (b *lineBuf) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

// matching returns the lines read so far that match re, and how many were
// read.
func (b *lineBuf) matching(re *regexp.Regexp) (lines []string, read int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range b.lines[:b.read] {
		if re.MatchString(line) {
			lines = append(lines, line)
		}
	}
	return lines, b.read
}

// recent describes the last lines received, for failure messages.
func (b *lineBuf) recent() string {
	const n = 10
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) == 0 {
		return "\t(no lines received)"
	}
	first := max(0, len(b.lines)-n)
	var s strings.Builder
	fmt.Fprintf(&s, "\tlast %d of %d lines received (> unread):", len(b.lines)-first, len(b.lines))
	for i := first; i < len(b.lines); i++ {
		mark := " "
		if i >= b.read {
			mark = ">"
		}
		fmt.Fprintf(&s, "\n\t%s %s", mark, abbrev(b.lines[i]))
	}
	return s.String()
}

// abbrev quotes line for a failure message, cut short if it is long.
func abbrev(line string) string {
	const max = 200
	if len(line) <= max {
		return strconv.Quote(line)
	}
	return fmt.Sprintf("%q... (%d bytes)", line[:max], len(line))
}
