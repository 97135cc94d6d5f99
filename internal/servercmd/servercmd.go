// Package servercmd is the ircish server command: flags, listeners, log
// file and signals.
package servercmd

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"ircish/ircish"
)

const usage = `usage: server [flags] [port]

Runs the ircish chat server on port (default 12000; 0 picks a free one).
It prints the address it listens on to stderr, logs to server.log, reopens
the log on SIGHUP, and stops on SIGINT or SIGTERM, saying BYE to every
client. With -tls-cert and -tls-key it serves TLS on -tls-port as well.

Flags:
`

// shutdownGrace bounds how long a stopping server waits for clients to
// take their BYE.
const shutdownGrace = 2 * time.Second

// Main runs the server command with args (without the program name) and
// returns its exit status. configure, if not nil, may adjust the server
// before it starts; tests use it.
func Main(args []string, stderr io.Writer, configure func(*ircish.Server)) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	host := fs.String("host", "", "interface `address` to listen on (default all)")
	logPath := fs.String("log", "server.log", "log `file`, appended to")
	logFlush := fs.Duration("log-flush", 100*time.Millisecond, "longest a log record may wait to be written with others; 0: at once")
	logWhispers := fs.Bool("log-whispers", false, "log what whispers say, not only who whispered to whom")
	maxLine := fs.Int("max-line", ircish.DefaultMaxLine, "longest client line in `bytes`, without its terminator")
	sendQueue := fs.Int("send-queue", ircish.DefaultSendQueue, "`bytes` queued for a client before it is dropped")
	writeTimeout := fs.Duration("write-timeout", ircish.DefaultWriteTimeout, "drop a client that takes no data for this long")
	flood := fs.Float64("flood", ircish.DefaultFloodRate, "lines per second a client may send after its burst; 0: no limit")
	floodBurst := fs.Int("flood-burst", ircish.DefaultFloodBurst, "lines a client may send at once")
	registerTimeout := fs.Duration("register-timeout", ircish.DefaultRegisterTimeout, "close a connection that has not sent NICK by then")
	lineTimeout := fs.Duration("line-timeout", ircish.DefaultLineTimeout, "close a connection that begins a line and does not end it by then")
	maxClients := fs.Int("max-clients", ircish.DefaultMaxClients, "connections at once")
	maxPerIP := fs.Int("max-per-ip", ircish.DefaultMaxPerIP, "connections at once from one IP address (loopback exempt)")
	ipRate := fs.Float64("ip-connect-rate", ircish.DefaultIPConnectRate, "new connections per second from one IP address after a burst of -max-per-ip (loopback exempt)")
	limitLoopback := fs.Bool("limit-loopback", false, "apply the per-IP limits to loopback addresses too")
	ipv6Prefix := fs.Int("ipv6-prefix", ircish.DefaultIPv6Prefix, "the per-IP limits count IPv6 clients by network: its prefix length in `bits` (1 to 128)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `file` (PEM); with -tls-key, serve TLS on -tls-port")
	tlsKey := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	tlsPort := fs.Int("tls-port", 12443, "`port` for TLS; 0 picks a free one")
	debugAddr := fs.String("debug-addr", "", "loopback `address` (e.g. 127.0.0.1:6060) to serve /debug/pprof/ and counters at /debug/vars on; empty: none")
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "server: "+format+"\n", args...)
		return 1
	}
	if n := len(args); n > 0 && isNegativeNumber(args[n-1]) {
		return fail("invalid port %q: want a number from 0 to 65535", args[n-1]) // not a flag
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	port, err := parsePort(fs.Args())
	if err != nil {
		return fail("%v", err)
	}
	if *maxLine < 1 || *sendQueue < 1 || *maxClients < 1 || *maxPerIP < 1 || *floodBurst < 1 {
		return fail("-max-line, -send-queue, -max-clients, -max-per-ip and -flood-burst must be at least 1")
	}
	if *flood < 0 || *logFlush < 0 || *ipRate <= 0 || *writeTimeout <= 0 || *registerTimeout <= 0 || *lineTimeout <= 0 {
		return fail("-flood and -log-flush must not be negative; rates and timeouts must be positive")
	}
	if *ipv6Prefix < 1 || *ipv6Prefix > 128 {
		return fail("-ipv6-prefix must be from 1 to 128")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return fail("-tls-cert and -tls-key go together")
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fail("cannot load TLS certificate: %v", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	lc := net.ListenConfig{KeepAlive: -1} // keepAliveListener turns it on
	l, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(*host, port))
	if err != nil {
		return fail("cannot listen: %v", errors.Unwrap(err))
	}
	defer l.Close()
	listeners := []net.Listener{keepAliveListener{l}}
	if tlsConfig != nil {
		tl, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(*host, strconv.Itoa(*tlsPort)))
		if err != nil {
			return fail("cannot listen for TLS: %v", errors.Unwrap(err))
		}
		defer tl.Close()
		listeners = append(listeners, tls.NewListener(keepAliveListener{tl}, tlsConfig))
	}
	var debug net.Listener
	if *debugAddr != "" {
		if debug, err = listenLoopback(*debugAddr); err != nil {
			return fail("cannot listen for -debug-addr: %v", err)
		}
		defer debug.Close()
	}
	logFile, err := openLog(*logPath, *logFlush)
	if err != nil {
		return fail("cannot open log: %v", err)
	}
	defer logFile.Close()

	log := slog.New(slog.NewTextHandler(logFile, nil))
	srv := &ircish.Server{
		Log:             log,
		MaxLine:         *maxLine,
		SendQueue:       *sendQueue,
		WriteTimeout:    *writeTimeout,
		FloodRate:       *flood,
		FloodBurst:      *floodBurst,
		RegisterTimeout: *registerTimeout,
		LineTimeout:     *lineTimeout,
		MaxClients:      *maxClients,
		MaxPerIP:        *maxPerIP,
		IPConnectRate:   *ipRate,
		LimitLoopback:   *limitLoopback,
		IPv6Prefix:      *ipv6Prefix,
		LogWhispers:     *logWhispers,
	}
	if *flood == 0 {
		srv.FloodRate = -1 // Server's zero value means the default
	}
	if configure != nil {
		configure(srv)
	}

	if debug != nil {
		serveDebug(debug, srv)
		fmt.Fprintln(stderr, "debug server on", debug.Addr())
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(stop)
	defer signal.Stop(hup)

	served := make(chan error, len(listeners))
	for i, l := range listeners {
		go func() { served <- srv.Serve(l) }()
		secure := i > 0
		log.Info("server started", "addr", l.Addr().String(), "tls", secure)
		if secure {
			fmt.Fprintln(stderr, "listening on", l.Addr(), "(TLS)")
		} else {
			fmt.Fprintln(stderr, "listening on", l.Addr())
		}
	}

	status := 0
	for running := true; running; {
		select {
		case sig := <-stop:
			log.Info("signal received", "signal", sig.String())
			running = false
		case <-hup:
			if err := logFile.Reopen(); err != nil {
				log.Error("cannot reopen log", "err", err)
			} else {
				log.Info("log reopened")
			}
		case err := <-served:
			log.Error("accept failed", "err", err)
			fmt.Fprintln(stderr, "server: accept failed:", err)
			status = 1
			running = false
		}
	}
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Shutdown(grace)
	log.Info("server stopped")
	return status
}

func isNegativeNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n < 0
}

// parsePort returns the port among args, or the default.
func parsePort(args []string) (string, error) {
	switch len(args) {
	case 0:
		return "12000", nil
	case 1:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n > 65535 {
			return "", fmt.Errorf("invalid port %q: want a number from 0 to 65535", args[0])
		}
		return strconv.Itoa(n), nil
	default:
		return "", fmt.Errorf("too many arguments %q: want at most a port", args)
	}
}
