package clientcmd

// The chat loop: a small state machine, from the first connection through
// the losses and reconnections that may follow to the end.

import (
	"bufio"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"ircish/ircish/client"
)

// A chat is one run of the chat loop.
type chat struct {
	addrs     []string // the servers, tried in turn
	cur       int      // index in addrs of the connection, or of the attempt under way or next
	tlsConfig *tls.Config
	d         display
	s         *client.Session
	conn      net.Conn         // nil while reconnecting
	lines     chan []byte      // the connection's lines; nil while reconnecting
	readErr   error            // why the connection's lines ended; set before they do
	done      chan struct{}    // closed when run returns
	input     <-chan string    // the lines typed
	signals   <-chan os.Signal // that end the chat

	retries     int              // reconnect attempts after a loss; forever if negative
	attempts    int              // made since the loss
	round       int              // attempts since the loss or the last wait
	backoff     time.Duration    // the next wait between attempts
	wait        time.Duration    // to wait before the attempt up next
	nickRetry   <-chan time.Time // when to ask again for our nick, held by our lost connection
	historyDone <-chan time.Time // when to stop waiting for the server's word on HISTORY
	queued      []string         // lines typed while rejoining, run once back

	password string // of the nick we start with, if given (-password-file)
	inClear  bool   // the connection is plain TCP to another machine
	warned   bool   // we warned of sending a password in clear
	asking   string // the nick whose password the user is asked for

	// How long to wait before asking again for a held nick
	// (nickRetryWait), and at most for the server's word on HISTORY
	// (client.HistoryWait): fields, so that tests may shorten them.
	nickRetryAfter, historyTimeout time.Duration

	status int    // once ended: run's exit status,
	msg    string // and its last message for stderr, if any
}

// Reconnecting goes round the servers, beginning with the one after the
// server lost. A round ends when each server has had its turn, the lost
// one included: reconnecting waits 1 s then, and twice as long after each
// next round, up to 30 s; within a round it goes on at once. (With one
// server, every attempt is a round.) Each wait is a fifth longer or
// shorter at random, so that clients that lost one server do not all come
// back at the same instant.
const (
	firstBackoff = time.Second
	maxBackoff   = 30 * time.Second
	// maxQueued bounds the lines typed while reconnecting.
	maxQueued = 100
	// nickRetryWait is how long to wait before asking again for our nick,
	// held by our lost connection (see client.NickHeldFor).
	nickRetryWait = time.Second
)

// A state is where the chat stands with its connection. Each but ended
// has a method of the same name, which waits for what may happen in that
// state and returns the state that follows.
type state int

const (
	online    state = iota // on the first connection, or back: lines typed are sent
	rejoining              // on a new connection after a loss, registering again: lines typed wait
	waiting                // the connection lost: waiting before the next attempt to reconnect
	dialing                // an attempt to reconnect under way
	leaving                // QUIT sent: waiting for the server's goodbye
	ended                  // run returns c.status and c.msg
)

// run registers as nick on conn and chats until the end, reconnecting
// when the connection is lost if it may. It returns the exit status and,
// if there is one, a last message for stderr.
func (c *chat) run(conn net.Conn, nick string, scrollback int, signals <-chan os.Signal) (int, string) {
	c.done = make(chan struct{})
	defer close(c.done)
	defer func() {
		if c.conn != nil {
			c.conn.Close()
		}
	}()
	c.input, c.signals = c.d.input(), signals
	s, hello := client.NewSession(nick, scrollback)
	s.SetPassword(c.password)
	c.s = s
	c.connect(conn, hello)
	for st := online; st != ended; {
		switch st {
		case online:
			st = c.online()
		case rejoining:
			st = c.rejoining()
		case waiting:
			st = c.waiting()
		case dialing:
			st = c.dialing()
		case leaving:
			st = c.leaving()
		}
	}
	return c.status, c.msg
}

// online chats: it shows the server's lines and sends the user's.
func (c *chat) online() state {
	for {
		select {
		case line, ok := <-c.lines:
			if next := c.serverLine(online, line, ok); next != online {
				return next
			}
		case text, ok := <-c.input:
			if !ok {
				return c.leave(c.s.Quit())
			}
			line, hint := c.s.Input(text)
			if hint != nil {
				c.d.show(hint)
			}
			if c.s.Quitting() {
				return c.leave(line)
			}
			c.send(line)
		case <-c.historyDone:
			c.historyDone = nil
			c.d.show(c.s.ReleaseHeld())
		case pw := <-c.d.passwords():
			if next := c.typedPassword(online, pw); next != online {
				return next
			}
		case <-c.signals:
			return c.leave(c.s.Quit())
		}
	}
}

// rejoining waits to be back in the room on a new connection, asking
// again for our nick while the server holds it for our lost connection.
func (c *chat) rejoining() state {
	for {
		select {
		case line, ok := <-c.lines:
			if next := c.serverLine(rejoining, line, ok); next != rejoining {
				return next
			}
		case <-c.nickRetry:
			c.nickRetry = nil
			c.send(c.s.RetryNick())
		case text, ok := <-c.input:
			if c.typedOffline(text, ok) {
				return c.end(c.unsent())
			}
		case pw := <-c.d.passwords():
			if next := c.typedPassword(rejoining, pw); next != rejoining {
				return next
			}
		case <-c.signals:
			return c.end(c.unsent())
		}
	}
}

// waiting waits c.wait, give or take, before the next attempt.
func (c *chat) waiting() state {
	retry := time.After(jitter(c.wait))
	for {
		select {
		case <-retry:
			return dialing
		case text, ok := <-c.input:
			if c.typedOffline(text, ok) {
				return c.end(c.unsent())
			}
		case <-c.signals:
			return c.end(c.unsent())
		}
	}
}

// dialing dials the server up next, in the background so that the user
// may type, or leave, meanwhile.
func (c *chat) dialing() state {
	dialed := make(chan dialResult, 1)
	go func(addr string) {
		conn, err := dial(addr, c.tlsConfig)
		dialed <- dialResult{conn, err}
	}(c.addrs[c.cur])
	for {
		end := false
		select {
		case r := <-dialed:
			return c.dialed(r)
		case text, ok := <-c.input:
			end = c.typedOffline(text, ok)
		case <-c.signals:
			end = true
		}
		if end {
			// Close what the dial brings, within dialTimeout.
			go func() {
				if r := <-dialed; r.conn != nil {
					r.conn.Close()
				}
			}()
			return c.end(c.unsent())
		}
	}
}

// leaving waits for the server's goodbye to our QUIT, for byeTimeout at
// most, showing what comes before it. A signal says QUIT again.
func (c *chat) leaving() state {
	byeWait := time.After(byeTimeout)
	for {
		select {
		case line, ok := <-c.lines:
			if next := c.serverLine(leaving, line, ok); next != leaving {
				return next
			}
		case <-c.signals:
			c.send(c.s.Quit())
		case <-byeWait:
			return c.end(0, "no goodbye from the server in "+byeTimeout.String()+"; leaving anyway")
		}
	}
}

// leave says goodbye with line, a QUIT.
func (c *chat) leave(line []byte) state {
	c.send(line)
	return leaving
}

// end ends run with status and, if not "", a last message for stderr.
func (c *chat) end(status int, msg string) state {
	c.status, c.msg = status, msg
	return ended
}

// serverLine handles a line from the server in state cur, or, if !ok, the
// end of the connection's lines, and returns the next state.
func (c *chat) serverLine(cur state, line []byte, ok bool) state {
	if !ok {
		return c.lost(cur)
	}
	ev, reply := c.s.Handle(line)
	c.setTimers()
	switch ev := ev.(type) {
	case client.NickRefused:
		// Back after a reconnect, lines typed wait for the nick: a
		// person cannot pick another.
		if !c.d.interactive() || cur == rejoining {
			return c.end(1, ev.String())
		}
	case client.PasswordNeeded:
		return c.needPassword(cur, ev)
	case client.Sanction:
		if c.s.Barred() && (!c.d.interactive() || cur == rejoining) {
			return c.end(1, ev.String())
		}
	case client.Removed:
		if ev.Self {
			// Kicked or banned: coming back would defy the operator.
			c.d.show(c.s.ReleaseHeld())
			c.d.show(ev)
			return c.end(1, "")
		}
	case client.Bye:
		c.d.show(c.s.ReleaseHeld()) // no reply comes after BYE
		c.d.show(ev)
		if c.s.Quitting() {
			return c.end(0, "")
		}
		if c.retries == 0 {
			return c.end(1, "")
		}
		return cur // the connection ends next, and is reconnected
	case client.Registered:
		c.d.show(ev)
		c.send(reply)
		for _, text := range c.queued {
			line, hint := c.s.Input(text)
			if hint != nil {
				c.d.show(hint)
			}
			c.send(line)
		}
		c.queued = nil
		if cur == rejoining {
			return online
		}
		return cur
	}
	c.d.show(ev)
	c.send(reply)
	c.d.setNicks(c.s.Others())
	return cur
}

// setTimers starts or stops the timers that the session's state calls
// for: to ask again for a held nick, and to stop waiting for the server's
// word on HISTORY. A timer that runs already runs on.
func (c *chat) setTimers() {
	c.nickRetry = timer(c.nickRetry, c.s.AwaitsNick(), c.nickRetryAfter)
	c.historyDone = timer(c.historyDone, c.s.AwaitsHistory(), c.historyTimeout)
}

// timer returns t if on, or a new timer of d if t is nil; nil if not on.
func timer(t <-chan time.Time, on bool, d time.Duration) <-chan time.Time {
	switch {
	case !on:
		return nil
	case t == nil:
		return time.After(d)
	}
	return t
}

// lost handles the end of the connection's lines in state cur: the end of
// run, or the first attempt to reconnect, after a wait.
func (c *chat) lost(cur state) state {
	c.d.show(c.s.ReleaseHeld())
	if c.s.Quitting() {
		return c.end(0, "")
	}
	if c.s.Barred() { // banned: said already
		return c.end(1, "")
	}
	why := "lost the connection to " + c.addrs[c.cur] + ": " + c.readErr.Error()
	if cur != rejoining {
		c.attempts, c.round, c.backoff = 0, 0, firstBackoff
	} else { // lost again before we were back: that attempt failed
		c.attempts++
	}
	if c.retries == 0 || c.retries > 0 && c.attempts >= c.retries {
		return c.end(1, why)
	}
	c.conn.Close()
	c.conn, c.lines, c.nickRetry, c.historyDone = nil, nil, nil, nil
	c.wait = c.next()
	if len(c.addrs) == 1 {
		why += "; reconnecting…"
	} else {
		why += "; reconnecting to " + c.upNext(c.wait) + "…"
	}
	c.d.show(client.Hint{Text: "* " + why})
	return waiting
}

// dialed goes on from an attempt to reconnect: to register on the new
// connection, or to wait for the next attempt, or to give up.
func (c *chat) dialed(r dialResult) state {
	if r.err == nil {
		c.connect(r.conn, c.s.Reconnect())
		return rejoining
	}
	why := dialError(c.addrs[c.cur], r.err)
	c.attempts++
	if c.retries > 0 && c.attempts >= c.retries {
		return c.end(1, why+"; gave up after "+strconv.Itoa(c.attempts)+" attempts")
	}
	c.wait = c.next()
	if len(c.addrs) == 1 {
		why += "; trying again in " + c.wait.String()
	} else {
		why += "; trying " + c.upNext(c.wait)
	}
	c.d.show(client.Hint{Text: "* " + why})
	return waiting
}

// needPassword asks the user for the password of a registered nick that
// the server wants, if a person can type it unseen; else the nick is
// refused, and the client ends if no one can pick another.
func (c *chat) needPassword(cur state, ev client.PasswordNeeded) state {
	if !c.d.askPassword("password for " + client.Clean(ev.Nick) + ": ") {
		if !c.d.interactive() || cur == rejoining {
			return c.end(1, ev.String())
		}
		c.d.show(ev)
		return cur
	}
	c.asking = ev.Nick
	c.warnInClear() // before it is typed, so that the user may think again
	c.d.show(client.Hint{Text: "* the nick " + ev.Nick + " is registered: type its password (not shown), or just Enter to give up"})
	return cur
}

// typedPassword sends the password typed for the nick asked for, in state
// cur, and returns the next state. Nothing typed gives the nick up.
func (c *chat) typedPassword(cur state, pw string) state {
	nick := c.asking
	c.asking = ""
	switch {
	case nick == "":
	case pw != "":
		c.send(c.s.ClaimNick(nick, pw))
	case cur == rejoining:
		return c.end(1, "no password for the registered nick "+nick)
	default:
		c.d.show(client.Hint{Text: "* no password given: pick another nick with /nick NAME"})
	}
	return cur
}

// warnInClear warns, once, that a password goes in plain text to another
// machine, where anyone on the way may read it.
func (c *chat) warnInClear() {
	if c.inClear && !c.warned {
		c.warned = true
		c.d.show(client.Hint{Text: "* warning: sending a password without TLS to " + c.addrs[c.cur]})
	}
}

// typedOffline handles a line typed, or the end of input (!ok), while we
// are not back in the room, and reports whether to end: on /quit or the
// end of input, as there is nobody to say goodbye to.
func (c *chat) typedOffline(text string, ok bool) bool {
	switch {
	case !ok || client.IsQuit(text):
		return true
	case len(c.queued) < maxQueued:
		// Run once back: a command's answer must find us there.
		c.queued = append(c.queued, text)
		c.d.show(client.Hint{Text: "* not connected: sent once reconnected"})
	default:
		c.d.show(client.Hint{Text: "* not connected: not sent"})
	}
	return false
}

// unsent is how run ends without a connection: 0, unless lines typed
// meanwhile were never sent.
func (c *chat) unsent() (int, string) {
	if len(c.queued) > 0 {
		return 1, strconv.Itoa(len(c.queued)) + " lines typed while reconnecting were not sent"
	}
	return 0, ""
}

type dialResult struct {
	conn net.Conn
	err  error
}

// next turns to the server after the current one, for the next attempt
// to reconnect, and returns how long to wait before it.
func (c *chat) next() time.Duration {
	c.cur = (c.cur + 1) % len(c.addrs)
	if c.round++; c.round < len(c.addrs) {
		return 0
	}
	wait := c.backoff
	c.round, c.backoff = 0, min(2*c.backoff, maxBackoff)
	return wait
}

// upNext names the server of the next attempt, and the wait before it if
// there is one: "host:port" or "host:port in 2s".
func (c *chat) upNext(wait time.Duration) string {
	if wait == 0 {
		return c.addrs[c.cur]
	}
	return c.addrs[c.cur] + " in " + wait.String()
}

// connect starts chatting on conn: it reads the server's lines and sends
// hello, the lines that register. With several servers, it says which
// one it is.
func (c *chat) connect(conn net.Conn, hello []byte) {
	c.conn, c.lines = conn, make(chan []byte)
	c.inClear = inClear(conn.RemoteAddr(), c.tlsConfig != nil)
	go c.readServer(conn, c.lines)
	var what string
	if len(c.addrs) > 1 {
		what = " to " + c.addrs[c.cur]
	}
	if tc, ok := conn.(*tls.Conn); ok {
		what += " with " + tls.VersionName(tc.ConnectionState().Version)
	}
	if what != "" {
		c.d.show(client.Hint{Text: "* connected" + what})
	}
	c.send(hello)
}

// jitter returns d made up to a fifth longer or shorter at random.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}

// send writes a line to the server. A write that fails is not reported
// here: the reader sees the connection end and says so.
func (c *chat) send(line []byte) {
	if line == nil || c.conn == nil {
		return
	}
	if client.CarriesPassword(line) {
		c.warnInClear()
	}
	c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	c.conn.Write(line)
}

// readServer sends conn's lines to lines, and closes it when they end,
// after setting c.readErr.
func (c *chat) readServer(conn net.Conn, lines chan<- []byte) {
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 4096), maxServerLine)
	for sc.Scan() {
		select {
		case lines <- append([]byte(nil), sc.Bytes()...):
		case <-c.done:
			return
		}
	}
	c.readErr = sc.Err()
	switch {
	case c.readErr == nil:
		c.readErr = errors.New("the server closed it")
	case errors.Is(c.readErr, bufio.ErrTooLong):
		c.readErr = errors.New("the server sent a line too long to read")
	case errors.Is(c.readErr, syscall.ECONNRESET):
		c.readErr = errors.New("connection reset")
	}
	close(lines)
}
