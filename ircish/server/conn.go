package server

import (
	"ircish/ircish"
	"ircish/ircish/room"

	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Reasons a client leaves, as LEFT lines and the log give them.
const (
	reasonQuit            = "quit"
	reasonLost            = "connection lost"
	reasonReadError       = "read error"
	reasonSendQueue       = "send queue exceeded"
	reasonWriteTimeout    = "write timeout"
	reasonShutdown        = "shutdown"
	reasonPanic           = "internal error"
	reasonLineTooLong     = "line too long"
	reasonLineTimeout     = "line timeout"
	reasonRegisterTimeout = "registration timeout"
	reasonUnregistered    = "too many lines before NICK"
	reasonHTTP            = "http request"
	reasonWeb             = "web request" // handed to the web server (see web.go)
	reasonTLS             = "tls handshake failed"
	reasonCutOff          = "cut off from the cluster"
	reasonSentOff         = "removed by an operator"
)

// maxLinesBeforeNick bounds the lines a connection may send before it
// registers, NICK aside.
const maxLinesBeforeNick = 30

var (
	errShuttingDown  = ircish.NewError(ircish.CodeServerFull, "the server is shutting down")
	errNotRegistered = ircish.NewError(ircish.CodeNotRegistered, "say NICK <name> first")
	errQuit          = errors.New("ircish: quit")
	errFlood         = ircish.NewError(ircish.CodeFlood, "you are sending too fast: your lines are delayed, not lost")
	errTooManyLines  = ircish.NewError(ircish.CodeFlood, "too many lines before NICK: closing")
	errCutOff        = ircish.NewError(ircish.CodeServerFull, "this server is cut off from its cluster: try another")
	errNotHTTP       = ircish.NewError(ircish.CodeUnknownCommand, "this is an ircish chat server, not a web server: talk to it with telnet, nc or the ircish client")
)

func errUnknownCommand(verb string) *ircish.Error {
	return ircish.NewError(ircish.CodeUnknownCommand, "unknown command "+verb+"; HELP lists the commands")
}

// httpRequest matches the first line of an HTTP request.
var httpRequest = regexp.MustCompile(`^[A-Z]+ \S+ HTTP/\d`)

// A conn is one connection as the server sees it. Its own goroutine
// (serve, then readOn) reads the connection, runs commands and, at the end,
// leaves the room. Lines to the client go through its outbox.
//
// Only the connection's own goroutine reads or writes a conn's fields
// (one at a time: serve, then each readOn in turn), with no lock; the
// room's state of the client is in its member, which only the room
// touches. Other goroutines reach the connection through its outbox,
// which has a lock of its own, and Shutdown through netConn's Close
// and CloseRead, which are safe to call at any time.
type conn struct {
	s       *Server
	netConn net.Conn
	remote  string // ip:port
	ip      string // the key of its per-IP limits, if they apply
	in      lineReader
	out     *outbox
	flood   *rate.Limiter // nil: no flood control

	member *member // in the room; nil until registered and once gone
	nick   string  // the nick the room last gave the client, for the log

	operName string // the operator it logged in as (OPER), if any

	web        bool   // a WebSocket (see web.go)
	seqs       bool   // asked for seqs on MSG lines (HISTORY LIVE) before NICK
	welcomed   bool   // WELCOME was sent: the connection speaks the protocol
	lines      int    // lines read
	flooding   bool   // lines are being delayed
	quitReason string // set by QUIT
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{
		s:       s,
		netConn: nc,
		remote:  nc.RemoteAddr().String(),
		in:      newLineReader(nc, s.maxLine(), s.lineTimeout()),
		out:     newOutbox(nc, s.sendQueue(), s.writeTimeout()),
	}
	c.out.meter = s.meter
	if r := s.floodRate(); r > 0 {
		c.flood = rate.NewLimiter(rate.Limit(r), s.floodBurst())
	}
	return c
}

// logAt logs an event of this client, with its address and nick. It takes
// slog.Attrs, so that a message costs no allocation to log.
func (c *conn) logAt(level slog.Level, msg string, attrs ...slog.Attr) {
	var buf [5]slog.Attr
	all := append(buf[:0], slog.String("remote", c.remote))
	if c.nick != "" {
		all = append(all, slog.String("nick", c.nick))
	}
	if c.web {
		all = append(all, slog.Bool("web", true))
	}
	c.s.log().LogAttrs(context.Background(), level, msg, append(all, attrs...)...)
}

func (c *conn) logInfo(msg string, attrs ...slog.Attr) { c.logAt(slog.LevelInfo, msg, attrs...) }

// serve runs the client until it quits or its connection ends: it greets
// the client, then reads and handles its lines.
func (c *conn) serve() {
	cause := reasonLost
	defer c.end(&cause)
	if cause = c.greet(); cause == "" {
		go c.readOn()
	}
}

// readOn reads and handles the client's lines until it quits, its
// connection ends, it is dropped or the server shuts down. Handling a line
// can grow a goroutine's stack to several KiB (a broadcast, a log record),
// and a waiting goroutine keeps its stack: so once a burst of lines is
// handled, readOn goes on in a fresh goroutine, and an idle client waits
// for its next line on the smallest stack.
func (c *conn) readOn() {
	cause := reasonLost
	defer c.end(&cause)
	for {
		if cause = c.handle(c.in.readLine()); cause != "" {
			return
		}
		if !c.in.buffered() {
			go c.readOn()
			return
		}
	}
}

// end is deferred by the client's goroutines: it finishes the client for
// *cause, unless that is "" (the client goes on), or for a panic.
func (c *conn) end(cause *string) {
	if p := recover(); p != nil {
		c.logAt(slog.LevelError, "panic", slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
		*cause = reasonPanic
	}
	if *cause != "" {
		if c.out.sentOff() != "" {
			*cause = reasonSentOff
		}
		c.hangUp(*cause)
	}
}

// greet shakes hands for TLS, answers a web client, sends WELCOME and
// handles the first line if it came at once. It returns why the connection
// ends, or "" to go on.
func (c *conn) greet() string {
	deadline := time.Now().Add(c.s.registerTimeout())
	if tc, ok := c.netConn.(*tls.Conn); ok {
		tc.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			c.logInfo("tls handshake failed", slog.Any("err", err))
			return reasonTLS
		}
		tc.SetDeadline(time.Time{})
	}
	// A web client speaks first: if a request comes at once, it goes to
	// the web server (or, with NoWeb, gets an answer in HTTP, which a
	// browser or curl can show), rather than WELCOME.
	var line []byte
	var err error = errDeadline
	if !c.web {
		line, err = c.firstLine()
	}
	if err == nil && httpRequest.Match(line) {
		c.s.callers.saw(c.addrKey(), c.s.clock.Now(), true)
		if c.s.NoWeb {
			c.out.pushReply(httpAnswer)
			return reasonHTTP
		}
		c.s.web.handOff(c, line, c.in.take())
		return reasonWeb
	}
	if c.s.cutOff() {
		c.out.pushReply(errCutOff.Line())
		return reasonCutOff
	}
	c.out.pushReply(ircish.Line(ircish.Welcome, "welcome to ircish! Say NICK <name> to join, HELP for help."))
	c.welcomed = true
	c.in.setDeadline(deadline)
	if errors.Is(err, errDeadline) {
		return ""
	}
	return c.handle(line, err)
}

// stopped returns why the client must stop: it was dropped, or the server
// shuts down; "" if neither. Lines the client sent are run only while it
// is not stopped, so that nothing of a dropped client is heard after its
// drop, and shutdown does not wait for a client's buffered lines.
func (c *conn) stopped() string {
	if reason := c.out.err(); reason != "" {
		return reason
	}
	if c.out.sentOff() != "" {
		return reasonSentOff
	}
	if c.s.shuttingDown() {
		return reasonShutdown
	}
	if c.s.cutOff() {
		return reasonCutOff
	}
	return ""
}

// httpAnswer is the answer to a web client.
var httpAnswer = []byte("HTTP/1.0 400 Bad Request\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\n\r\n" +
	"This is an ircish chat server, not a web server: talk to it with telnet, nc or the ircish client.\r\n")

// handle runs one line read, or deals with the error reading it. It
// returns why the connection ends, or "" to go on.
func (c *conn) handle(line []byte, err error) string {
	tooLong := errors.Is(err, errLineTooLong)
	if err != nil && !tooLong {
		return c.readFailure(err)
	}
	if !tooLong && len(bytes.TrimLeft(line, " ")) == 0 {
		return ""
	}
	// Stop reading while this client's own replies pile up, and pace
	// floods: TCP pushes back on the sender, and nothing is lost.
	if reason := c.out.waitBelow(c.s.sendQueue() / 16); reason != "" {
		return reason
	}
	if tooLong {
		c.reply(ircish.NewError(ircish.CodeLineTooLong, fmt.Sprintf("lines are at most %d bytes; this one was dropped", c.in.max)))
		return ""
	}
	c.lines++
	c.s.meter.linesIn.Add(1)
	if c.lines == 1 && !c.web {
		// A request too slow for firstLine: noted, so that a reload is in time.
		late := httpRequest.Match(line)
		c.s.callers.saw(c.addrKey(), c.s.clock.Now(), late)
		if late {
			c.reply(errNotHTTP)
			return reasonHTTP
		}
	}
	c.pace()
	if reason := c.stopped(); reason != "" {
		return reason
	}
	switch err := c.run(line); {
	case errors.Is(err, room.ErrSilenced):
		return c.stopped()
	case errors.Is(err, errQuit):
		return reasonQuit
	case errors.Is(err, errTooManyLines):
		c.reply(err)
		return reasonUnregistered
	case err != nil:
		c.reply(err)
	}
	return ""
}

// pace waits as long as the flood limit asks before the next line, or
// until the client is dropped or the server shuts down, and tells the
// client once per episode: an episode ends when the client has been quiet
// long enough for its burst to refill.
func (c *conn) pace() {
	if c.flood == nil {
		return
	}
	now := c.s.clock.Now()
	if d := c.flood.ReserveN(now, 1).DelayFrom(now); d > 0 {
		c.s.meter.floodDelays.Add(1)
		if !c.flooding {
			c.flooding = true
			c.reply(errFlood)
		}
		select {
		case <-c.s.clock.After(d):
		case <-c.out.failed():
		case <-c.s.done:
		}
	} else if c.flood.TokensAt(now) >= float64(c.flood.Burst()-1) {
		c.flooding = false
	}
}

// readFailure tells why reading failed, and tells the client if it is to
// blame.
func (c *conn) readFailure(err error) string {
	if reason := c.stopped(); reason != "" {
		return reason
	}
	switch {
	case errors.Is(err, errNoLineEnd):
		c.reply(ircish.NewError(ircish.CodeLineTooLong, "a line with no end: closing"))
		return reasonLineTooLong
	case errors.Is(err, errLineTimeout):
		c.reply(ircish.NewError(ircish.CodeTimeout, "a line was begun but not ended in time: closing"))
		return reasonLineTimeout
	case errors.Is(err, errDeadline):
		c.reply(ircish.NewError(ircish.CodeTimeout, "no NICK in time: closing"))
		return reasonRegisterTimeout
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ETIMEDOUT):
		return reasonLost
	}
	c.logInfo("read error", slog.Any("err", err))
	return reasonReadError
}

// run parses and runs one command line.
func (c *conn) run(line []byte) error {
	m, err := ircish.ParseClientLine(line)
	if c.member == nil && c.lines > maxLinesBeforeNick && (err != nil || m.Verb != ircish.Nick) {
		return errTooManyLines
	}
	if err != nil {
		return err
	}
	cmd, ok := commands[m.Verb]
	switch {
	case c.member == nil && !cmd.beforeNick:
		return errNotRegistered
	case !ok:
		return errUnknownCommand(m.Verb)
	}
	if err := m.CheckParams(); err != nil {
		return err
	}
	return cmd.run(c, m.Params)
}

// send sends line to the client alone, as a reply: to a member, after the
// room's lines it has yet to be handed, so that it sees everything in
// order.
func (c *conn) send(line []byte) {
	if c.member == nil {
		c.out.pushReply(line)
		return
	}
	c.s.hub.reply(c.member, line)
}

// reply sends a protocol error to the client, unless the room has (see
// sentError), and logs it; any other error is a bug, logged and not sent.
func (c *conn) reply(err error) {
	e, ok := ircish.AsError(err)
	if !ok {
		c.logAt(slog.LevelError, "command failed", slog.Any("err", err))
		return
	}
	c.logInfo("protocol error", slog.String("code", e.Code), slog.String("text", e.Text))
	if !errors.As(err, new(sentError)) {
		c.send(e.Line())
	}
}

// A sentError is a protocol error that the room has sent already, in its
// place among the room's lines: an answer decided on the room's state
// (NICK_IN_USE, NO_SUCH_USER) is sent before any line that changes it.
type sentError struct{ err *ircish.Error }

func (e sentError) Error() string { return e.err.Error() }
func (e sentError) Unwrap() error { return e.err }

// hangUp leaves the room, says BYE (to a client that got WELCOME), and
// closes the connection once the outbox is written and the client had a
// moment to read it.
func (c *conn) hangUp(cause string) {
	if cause == reasonWeb { // the web server has the connection now
		return
	}
	reason, bye := cause, cause
	c.s.meter.dropped.add(dropCauses[cause])
	switch cause {
	case reasonSendQueue, reasonWriteTimeout:
		c.s.drops.Add(1)
	case reasonQuit:
		reason, bye = c.quitReason, cmp.Or(c.quitReason, "goodbye")
	case reasonShutdown:
		bye = "the server is shutting down"
	case reasonCutOff:
		bye = "this server is cut off from its cluster: connect to another"
	case reasonSentOff:
		bye = c.out.sentOff()
	}
	if c.member != nil && cause != reasonSentOff { // the room had it leave already
		c.s.hub.leave(c.member, reason)
	}
	c.member = nil
	if c.welcomed {
		c.out.pushReply(ircish.Line(ircish.Bye, bye))
	}
	c.out.closeAfterFlush()
	c.s.freeIP(c)
	c.logInfo("client disconnected", slog.String("cause", cause))
	c.linger()
	c.s.removeConn(c) // last: Shutdown waits for it, and closes c until then
}

// Closing a socket that holds unread input resets the connection, and the
// client may then lose the last lines it was sent. So before it closes, the
// server reads and drops what the client still sends, for a moment.
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 10
)

func (c *conn) linger() {
	if c.out.waitBelow(0) != "" { // dropped: nothing more is written
		c.netConn.Close()
		return
	}
	c.netConn.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.netConn, lingerBytes)
	c.netConn.Close()
}
