// Package servercmd is the ircish server command: flags, log file, signals.
package servercmd

import (
	"context"
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
It prints the address it listens on to stderr, logs to server.log, and
stops on SIGINT or SIGTERM, saying BYE to every client.

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
	maxLine := fs.Int("max-line", ircish.DefaultMaxLine, "longest client line in `bytes`, without its terminator")
	logWhispers := fs.Bool("log-whispers", false, "log what whispers say, not only who whispered to whom")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	port, err := parsePort(fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	if *maxLine < 1 {
		fmt.Fprintln(stderr, "server: -max-line must be at least 1")
		return 1
	}

	l, err := net.Listen("tcp", net.JoinHostPort(*host, port))
	if err != nil {
		fmt.Fprintln(stderr, "server: cannot listen:", errors.Unwrap(err))
		return 1
	}
	defer l.Close()
	logFile, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(stderr, "server: cannot open log:", err)
		return 1
	}
	defer logFile.Close()

	log := slog.New(slog.NewTextHandler(logFile, nil))
	srv := &ircish.Server{Log: log, MaxLine: *maxLine, LogWhispers: *logWhispers}
	if configure != nil {
		configure(srv)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	log.Info("server started", "addr", l.Addr().String())
	fmt.Fprintln(stderr, "listening on", l.Addr())

	status := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		log.Error("accept failed", "err", err)
		fmt.Fprintln(stderr, "server: accept failed:", err)
		status = 1
	}
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Shutdown(grace)
	log.Info("server stopped")
	return status
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
		return args[0], nil
	default:
		return "", fmt.Errorf("too many arguments %q: want at most a port", args)
	}
}
