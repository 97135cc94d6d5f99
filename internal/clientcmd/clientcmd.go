// Package clientcmd is the ircish client command: arguments, dialing, the
// terminal or plain-line display, signals, and putting the terminal back.
//
// Goroutines: Main's own runs the chat loop, which alone owns the
// client.Session, writes to the connection and prints; one goroutine reads
// the connection and one reads the user's input, each feeding the loop
// through a channel.
package clientcmd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
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

const usageLine = "usage: client [-h] [-tls] [-ca FILE] [-history N] [-reconnect N] [-password-file FILE] NICK [HOST] [PORT]"

var usage = usageLine + `

Joins the ircish chat server at HOST (default ` + defaultHost + `), PORT (default
` + defaultPort + `, or ` + defaultTLSPort + ` with -tls) as NICK, and shows the last messages said
there, if the server keeps them. Type a line to say it to everyone; /help
lists the commands:
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
                terminal, 0 otherwise. After a kick or a ban it does
                not reconnect
  -password-file FILE
                the password of NICK if it is registered: the first
                line of FILE; else $IRCISH_PASSWORD. Without either, on
                a terminal, it asks for it without echo. It is sent only
                if the server says NICK is registered, and again on
                each reconnect; never printed. Sent without TLS to
                an address that is not loopback, it is warned of once

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
	passwordFile := fs.String("password-file", "", "")
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
	password, err := suppliedPassword(*passwordFile)
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
		c := &chat{addrs: addrs, cur: first, tlsConfig: tlsConfig, d: d, retries: reconnect.n,
			nickRetryAfter: nickRetryWait, historyTimeout: client.HistoryWait, password: password}
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

// suppliedPassword returns the password of the nick given by
// -password-file, the first line of file, or else by $IRCISH_PASSWORD;
// "" if neither is.
func suppliedPassword(file string) (string, error) {
	if file == "" {
		return os.Getenv("IRCISH_PASSWORD"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("cannot read the password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return "", fmt.Errorf("no password on the first line of the password file %s", file)
	}
	return line, nil
}

// inClear reports whether a connection to addr, without TLS if !useTLS,
// carries passwords where others may read them: to another machine in
// plain text.
func inClear(addr net.Addr, useTLS bool) bool {
	if useTLS {
		return false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return err != nil || !ap.Addr().Unmap().IsLoopback()
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
