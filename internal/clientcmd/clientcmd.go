// Package clientcmd is the ircish client command: arguments, dialing, the
// terminal or plain-line display, signals, and putting the terminal back.
//
// Goroutines: Main's own runs the chat loop, which alone owns the
// client.Session, writes to the connection and prints; one goroutine reads
// the connection and one reads the user's input, each feeding the loop
// through a channel.
package clientcmd

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ircish/ircish"
	"ircish/ircish/client"
)

const usageLine = "usage: client [-h] [-tls] [-ca FILE] [-history N] [-reconnect N] NICK [HOST] [PORT]"

var usage = usageLine + `

Joins the ircish chat server at HOST (default ` + defaultHost + `), PORT (default
` + defaultPort + `, or ` + defaultTLSPort + ` with -tls) as NICK, and shows the last messages said
there. Type a line to say it to everyone; /help lists the commands:
` + client.CommandList() + `.

HOST may be several servers of one room, separated by commas, each as
host, host:port, [v6addr]:port or a bare IPv6 address; a port given
there wins over PORT. The client connects to the first that accepts;
when the connection is lost, it reconnects to the next one, in turn.

  -tls          connect with TLS (1.2 or later), checking the server's
                certificate against the system's trusted authorities
  -ca FILE      trust the CA certificates in FILE (PEM) instead of the
                system's, as for a server with a self-signed certificate;
                implies -tls
  -history N    show the last N messages said on joining (default 50;
                0: none)
  -reconnect N  when the connection is lost, try N times to reconnect
                (1 s apart, then twice as long each time up to 30 s;
                with several servers, the next one at once, and the
                waits only once each has had its turn), join again
                under the same nick and show what was said meanwhile;
                "forever" never gives up. Default: forever on a
                terminal, 0 otherwise

On a terminal it keeps a prompt that arriving lines never break, with
history (up, down), Tab completion of commands and nicks, coloured nicks
(unless NO_COLOR is set or TERM=dumb) and timestamps; your own messages
start with a *, as in "*<duck> hello".

Otherwise (input or output redirected) it reads commands from its input
and writes plain lines; at the end of its input it says QUIT, waits for
the server's goodbye and exits 0. It exits 1 if it cannot connect, if
the server refuses NICK (with the reason), or if the connection is lost
(and -reconnect did not get it back).
`

var (
	defaultPort    = strconv.Itoa(ircish.DefaultPort)
	defaultTLSPort = strconv.Itoa(ircish.DefaultTLSPort)
)

const (
	defaultHost = "127.0.0.1"

	dialTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	// byeTimeout bounds the wait for BYE after QUIT.
	byeTimeout = 5 * time.Second
	// maxServerLine bounds a server line; a LIST of thousands of users
	// fits.
	maxServerLine = 4 << 20
)

// Main runs the client command with args (without the program name) and
// returns its exit status. stdin and stdout are the user's: when both are
// terminals (*os.File), the client runs its terminal display on them.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	useTLS := fs.Bool("tls", false, "")
	caFile := fs.String("ca", "", "")
	scrollback := fs.Int("history", client.DefaultScrollback, "")
	var reconnect retries
	fs.Var(&reconnect, "reconnect", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *scrollback < 0 {
		fmt.Fprintln(stderr, "invalid -history: want a number of messages from 0 up")
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 3 {
		fmt.Fprintln(stderr, usageLine)
		return 2
	}
	var tlsConfig *tls.Config
	if *useTLS || *caFile != "" {
		var err error
		if tlsConfig, err = newTLSConfig(*caFile); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	nick, addrs, err := parseArgs(fs.Args(), tlsConfig != nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	conn, first := dialFirst(addrs, tlsConfig, stderr)
	if conn == nil {
		return 1
	}

	d := newDisplay(stdin, stdout)
	if !reconnect.set && d.interactive() {
		reconnect.n = -1
	}
	status, msg := func() (int, string) {
		// The terminal is put back on every way out, a panic included.
		defer d.close()
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer signal.Stop(signals)
		c := &chat{addrs: addrs, cur: first, tlsConfig: tlsConfig, d: d, retries: reconnect.n}
		return c.run(conn, nick, *scrollback, signals)
	}()
	if msg != "" {
		fmt.Fprintln(stderr, client.Clean(msg))
	}
	return status
}

// retries is the value of -reconnect: how many attempts to reconnect, or
// -1 for forever; unset, it is forever on a terminal and none otherwise.
type retries struct {
	n   int
	set bool
}

func (r *retries) String() string { return strconv.Itoa(r.n) }

func (r *retries) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case s == "forever":
		n = -1
	case err != nil || n < 0:
		return errors.New(`want a number of attempts from 0 up, or "forever"`)
	}
	r.n, r.set = n, true
	return nil
}

// parseArgs returns the nick and the addresses to dial, in the order to
// try them, from one to three arguments. HOST is one server or several,
// separated by commas (see splitServer); a server without a port of its
// own takes PORT, whose default depends on whether TLS is used.
func parseArgs(args []string, useTLS bool) (nick string, addrs []string, err error) {
	hosts, port := defaultHost, defaultPort
	if useTLS {
		port = defaultTLSPort
	}
	if len(args) > 1 {
		hosts = args[1]
	}
	if len(args) > 2 {
		port = args[2]
	}
	if !validPort(port) {
		return "", nil, fmt.Errorf("invalid port %q: want a number from 1 to 65535", port)
	}
	servers := strings.Split(hosts, ",")
	for i, s := range servers {
		if s == "" {
			if len(servers) == 1 {
				return "", nil, errors.New(`invalid HOST "": want a host name or address`)
			}
			return "", nil, fmt.Errorf("invalid HOST %q: server %d of %d is empty", hosts, i+1, len(servers))
		}
		host, p, err := splitServer(s)
		if err != nil {
			return "", nil, err
		}
		if p == "" {
			p = port
		}
		addrs = append(addrs, net.JoinHostPort(host, p))
	}
	return args[0], addrs, nil
}

// splitServer returns the host and the port, "" if none, of one server in
// HOST: "host", "host:port", "[v6addr]:port", "[v6addr]" or a bare IPv6
// address, which has more than one colon and so takes no port.
func splitServer(s string) (host, port string, err error) {
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		host, port, err = net.SplitHostPort(s)
		if err != nil {
			why := err.Error()
			if addrErr, ok := err.(*net.AddrError); ok { // without the address again
				why = addrErr.Err
			}
			return "", "", fmt.Errorf("invalid server %q: %s", s, why)
		}
		if !validPort(port) {
			return "", "", fmt.Errorf("invalid port %q in %q: want a number from 1 to 65535", port, s)
		}
	case strings.Contains(s, ":"):
		if _, err := netip.ParseAddr(s); err != nil {
			return "", "", fmt.Errorf("invalid server %q: not an IPv6 address, nor host:port", s)
		}
		host = s
	default:
		host = s
	}
	if host == "" {
		return "", "", fmt.Errorf("invalid server %q: no host", s)
	}
	return host, port, nil
}

func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535
}

// newTLSConfig returns the TLS configuration for connecting: TLS 1.2 or
// later, and the certificates in caFile (PEM) as the only trusted roots
// if caFile is not "", else the system's.
func newTLSConfig(caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA file: %w", err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in the CA file %s", caFile)
	}
	return c, nil
}

// dial connects to addr, with TLS if tlsConfig is not nil; the TLS
// handshake is done before it returns, so that a certificate the client
// does not trust is a failure to connect.
func dial(addr string, tlsConfig *tls.Config) (net.Conn, error) {
	d := &net.Dialer{Timeout: dialTimeout}
	if tlsConfig == nil {
		return d.Dial("tcp", addr)
	}
	return (&tls.Dialer{NetDialer: d, Config: tlsConfig}).Dial("tcp", addr)
}

// dialFirst dials addrs in order until one accepts, and returns the
// connection and the index of its address, or nil if none accepts. It
// says on stderr why each that failed did.
func dialFirst(addrs []string, tlsConfig *tls.Config, stderr io.Writer) (net.Conn, int) {
	for i, addr := range addrs {
		conn, err := dial(addr, tlsConfig)
		if err == nil {
			return conn, i
		}
		why := dialError(addr, err)
		if i+1 < len(addrs) {
			why += "; trying " + client.Clean(addrs[i+1])
		}
		fmt.Fprintln(stderr, why)
	}
	return nil, 0
}

// dialError says in one line why dialing addr failed.
func dialError(addr string, err error) string {
	var dnsErr *net.DNSError
	var sysErr *os.SyscallError
	var certErr *tls.CertificateVerificationError
	var headerErr tls.RecordHeaderError
	why := err.Error()
	switch {
	case errors.As(err, &certErr):
		why = "TLS: " + certError(certErr.Err)
	case errors.As(err, &headerErr):
		why = "TLS: the server did not answer in TLS — is this its TLS port?"
	case errors.As(err, &dnsErr):
		why = "unknown host " + strconv.Quote(dnsErr.Name)
		if !dnsErr.IsNotFound {
			why = "cannot look up host " + strconv.Quote(dnsErr.Name) + ": " + dnsErr.Err
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		why = "connection refused — is the server running?"
	case errors.As(err, &sysErr):
		why = sysErr.Err.Error()
	case errors.Is(err, os.ErrDeadlineExceeded):
		why = "no answer in " + dialTimeout.String() + " — is the address right?"
	}
	// The names in a certificate, and the like, come from the network.
	return client.Clean("cannot connect to " + addr + ": " + why)
}

// certError says why the server's certificate is not trusted, and what
// to do about it.
func certError(err error) string {
	var authErr x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &authErr):
		return "certificate signed by unknown authority — use -ca FILE to trust its CA"
	case errors.As(err, &hostErr) && hostErr.Certificate != nil:
		names := hostErr.Certificate.DNSNames
		for _, ip := range hostErr.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
		if len(names) > 0 {
			return "the certificate is for " + strings.Join(names, ", ") + ", not " + hostErr.Host
		}
	}
	return strings.TrimPrefix(err.Error(), "x509: ")
}

// A chat is one run of the chat loop.
type chat struct {
	addrs     []string // the servers, tried in turn
	cur       int      // index in addrs of the connection, or of the attempt under way or next
	tlsConfig *tls.Config
	d         display
	s         *client.Session
	conn      net.Conn      // nil while reconnecting
	lines     chan []byte   // the connection's lines; nil while reconnecting
	readErr   error         // why the connection's lines ended; set before they do
	done      chan struct{} // closed when run returns

	retries   int           // reconnect attempts after a loss; forever if negative
	rejoining bool          // the connection was lost, and we are not back yet
	attempts  int           // made since the loss
	round     int           // attempts since the loss or the last wait
	backoff   time.Duration // the next wait between attempts
	queued    []string      // lines typed while rejoining, run once back
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
	input := c.d.input()
	s, hello := client.NewSession(nick, scrollback)
	c.s = s
	c.connect(conn, hello)

	var retry, nickRetry <-chan time.Time
	var dialed chan dialResult
	defer func() {
		if dialed != nil { // a dial is under way: close what it brings, within dialTimeout
			go func(d <-chan dialResult) {
				if r := <-d; r.conn != nil {
					r.conn.Close()
				}
			}(dialed)
		}
	}()
	var byeWait <-chan time.Time
	// quit says goodbye, and reports whether to end at once: when there is
	// nobody to say it to.
	quit := func(line []byte) bool {
		if c.conn == nil || c.rejoining {
			return true
		}
		c.send(line)
		input = nil
		if byeWait == nil {
			byeWait = time.After(byeTimeout)
		}
		return false
	}
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				if c.s.Quitting() {
					return 0, ""
				}
				why := "lost the connection to " + c.addrs[c.cur] + ": " + c.readErr.Error()
				if !c.rejoining {
					c.attempts, c.round, c.backoff = 0, 0, firstBackoff
				} else { // lost again before we were back: that attempt failed
					c.attempts++
				}
				if c.retries == 0 || c.retries > 0 && c.attempts >= c.retries {
					return 1, why
				}
				c.conn.Close()
				c.conn, c.lines, c.rejoining = nil, nil, true
				wait := c.next()
				if len(c.addrs) == 1 {
					why += "; reconnecting…"
				} else {
					why += "; reconnecting to " + c.upNext(wait) + "…"
				}
				c.d.show(client.Hint{Text: "* " + why})
				retry = time.After(jitter(wait))
				continue
			}
			ev, reply := c.s.Handle(line)
			switch ev := ev.(type) {
			case client.NickHeld:
				nickRetry = time.After(nickRetryWait)
			case client.NickRefused:
				if !c.d.interactive() {
					return 1, ev.String()
				}
			case client.Bye:
				c.d.show(ev)
				if c.s.Quitting() {
					return 0, ""
				}
				if c.retries == 0 {
					return 1, ""
				}
				continue // the connection ends next, and is reconnected
			case client.Registered:
				c.d.show(ev)
				c.send(reply)
				c.rejoining = false
				for _, text := range c.queued {
					line, hint := c.s.Input(text)
					if hint != nil {
						c.d.show(hint)
					}
					c.send(line)
				}
				c.queued = nil
				continue
			}
			c.d.show(ev)
			c.send(reply)
			c.d.setNicks(c.s.Others())
		case <-nickRetry:
			nickRetry = nil
			c.send(c.s.RetryNick())
		case <-retry:
			retry = nil
			dialed = make(chan dialResult, 1)
			go func(addr string) {
				conn, err := dial(addr, c.tlsConfig)
				dialed <- dialResult{conn, err}
			}(c.addrs[c.cur])
		case r := <-dialed:
			dialed = nil
			if r.err == nil {
				c.connect(r.conn, c.s.Reconnect())
				continue
			}
			why := dialError(c.addrs[c.cur], r.err)
			c.attempts++
			if c.retries > 0 && c.attempts >= c.retries {
				return 1, why + "; gave up after " + strconv.Itoa(c.attempts) + " attempts"
			}
			wait := c.next()
			if len(c.addrs) == 1 {
				why += "; trying again in " + wait.String()
			} else {
				why += "; trying " + c.upNext(wait)
			}
			c.d.show(client.Hint{Text: "* " + why})
			retry = time.After(jitter(wait))
		case text, ok := <-input:
			switch {
			case !ok || c.rejoining && client.IsQuit(text):
				if quit(c.s.Quit()) {
					return c.unsent()
				}
				continue
			case c.rejoining && len(c.queued) < maxQueued:
				// Run once back: a command's answer must find us there.
				c.queued = append(c.queued, text)
				c.d.show(client.Hint{Text: "* not connected: sent once reconnected"})
				continue
			case c.rejoining:
				c.d.show(client.Hint{Text: "* not connected: not sent"})
				continue
			}
			line, hint := c.s.Input(text)
			if hint != nil {
				c.d.show(hint)
			}
			if c.s.Quitting() {
				if quit(line) {
					return 0, ""
				}
				continue
			}
			c.send(line)
		case <-signals:
			if quit(c.s.Quit()) {
				return c.unsent()
			}
		case <-byeWait:
			return 0, "no goodbye from the server in " + byeTimeout.String() + "; leaving anyway"
		}
	}
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

// plainLines reads lines from r and sends them to a new channel, without
// their line ends, closing it at the end of r.
func plainLines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if line != "" || err == nil {
				ch <- line
			}
			if err != nil {
				return
			}
		}
	}()
	return ch
}
