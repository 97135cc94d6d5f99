// Package servercmd is the ircish server command: flags, listeners, log
// file and signals.
package servercmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"ircish/ircish"
	"ircish/ircish/cluster"
	"ircish/ircish/room"
	"ircish/ircish/server"
	"ircish/ircish/store"
)

var usage = `usage: server [flags] [port]
       server hash-password NAME

Runs the ircish chat server on port (default ` + strconv.Itoa(ircish.DefaultPort) + `; 0 picks a free one).
It prints the address it listens on to stderr and, unless -quiet, a line
for each connection: where it comes from, its nick, why it left. It logs
to server.log, reopens the log on SIGHUP, and stops on SIGINT or SIGTERM,
saying BYE to every client; a second signal while it waits for them makes
it exit at once, with status 1. It keeps the room's messages in ircish.db
(-store) across restarts. With -tls-cert and -tls-key it serves TLS on
-tls-port as well. With -nats it serves the room together with the other
servers on the same NATS JetStream (see README, "Cluster"). Its operators
are named in the -ops file, re-read on SIGHUP; "server hash-password NAME"
reads a password and prints an -ops line for it.

Flags:
`

// shutdownGrace bounds how long a stopping server waits for clients to
// take their BYE.
const shutdownGrace = 2 * time.Second

// Main runs the server command with args (without the program name) and
// returns its exit status. After a second SIGINT or SIGTERM, Main returns
// while the server still stops, and the caller must exit.
func Main(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPassword(args[1:], os.Stdin, os.Stdout, stderr)
	}
	cfg, status := parseFlags(args, stderr)
	if cfg == nil {
		return status
	}
	ls, err := listen(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	defer ls.close()
	return run(cfg, ls, stderr)
}

// joinTimeout bounds how long a server may take to join its cluster: to
// reach NATS and read the room's stream.
const joinTimeout = 30 * time.Second

// joinCluster has srv, which will listen on addr, join the cluster c, and
// returns its engine.
func joinCluster(srv *server.Server, c cluster.Config, addr net.Addr, stderr io.Writer) (*cluster.Engine, error) {
	if c.Name == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(addr.String())
		c.Name = net.JoinHostPort(host, port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	c.Log = srv.Log
	e := cluster.New(c)
	if err := srv.UseEngine(ctx, e); err != nil {
		return nil, err
	}
	fmt.Fprintln(stderr, "joined the cluster as", c.Name)
	return e, nil
}

// run opens the log and serves on ls until a signal stops it, or
// accepting fails for good. It returns the exit status.
func run(cfg *config, ls *listeners, stderr io.Writer) int {
	logFile, err := openLog(cfg.logPath, cfg.logFlush)
	if err != nil {
		fmt.Fprintln(stderr, "server: cannot open log:", err)
		return 1
	}
	defer logFile.Close()
	var handler slog.Handler = slog.NewTextHandler(logFile, nil)
	if !cfg.quiet {
		console := newConsole(stderr)
		defer console.close()
		handler = consoleHandler{handler, console}
	}
	log := slog.New(handler)
	srv := cfg.srv
	srv.Log = log
	st, err := openStore(cfg, log)
	if err != nil {
		log.Error("cannot open store", "file", cfg.storePath, "err", err)
		fmt.Fprintf(stderr, "server: cannot open store %s: %v\n", cfg.storePath, err)
		return 1
	}
	var metrics []prometheus.Collector // beside the server's own
	if cfg.cluster.URLs != "" {
		engine, err := joinCluster(srv, cfg.cluster, ls.chat[0].Addr(), stderr)
		if err != nil {
			log.Error("cannot join the cluster", "err", err)
			fmt.Fprintln(stderr, "server:", err)
			return 1
		}
		metrics = append(metrics, clusterCollector{engine})
	}
	if ls.debug != nil {
		serveDebug(ls.debug, srv, metrics...)
		fmt.Fprintln(stderr, "debug server on", ls.debug.Addr())
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(stop)
	status := serveUntilStopped(cfg, ls, logFile, stop, log, stderr)
	waited := shutdown(srv, stop, log)
	if st != nil {
		if err := closeStore(st, waited); err != nil {
			log.Error("cannot write store", "file", cfg.storePath, "err", err)
			fmt.Fprintf(stderr, "server: cannot write store %s: %v\n", cfg.storePath, err)
			status = 1
		}
	}
	if !waited {
		// Returning ends the process with the clients still connected;
		// the deferred Close writes the log first.
		return 1
	}
	log.Info("server stopped")
	return status
}

// serveUntilStopped serves the chat listeners until a signal comes on
// stop or accepting fails, reopening the log and re-reading -ops on
// SIGHUP; it returns the exit status so far.
func serveUntilStopped(cfg *config, ls *listeners, logFile *logFile, stop <-chan os.Signal, log *slog.Logger, stderr io.Writer) int {
	srv := cfg.srv
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	served := serve(srv, ls.chat, log, stderr)
	for {
		select {
		case sig := <-stop:
			log.Info("signal received", "signal", sig.String())
			return 0
		case <-hup:
			if err := logFile.Reopen(); err != nil {
				log.Error("cannot reopen log", "err", err)
			} else {
				log.Info("log reopened")
			}
			reloadOps(cfg, log)
		case err := <-served:
			log.Error("accept failed", "err", err)
			fmt.Fprintln(stderr, "server: accept failed:", err)
			return 1
		}
	}
}

// closeStore writes what waits for the store and closes it. After a
// second signal (waited false) it still gets a moment to write: the
// messages of the last -store-flush.
func closeStore(st *store.Store, waited bool) error {
	wait := storeCloseTimeout
	if !waited {
		wait = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return st.Close(ctx)
}

// storeCloseTimeout bounds how long a stopping server waits for its store
// to write what waits.
const storeCloseTimeout = 5 * time.Second

// openStore opens the store cfg asks for, if any, and has cfg.srv keep
// its messages there, starting from those the store kept. In a cluster,
// the store is an index in memory, for HISTORY SEARCH, which the cluster's
// engine fills as it reads the room (it must be in place before).
func openStore(cfg *config, log *slog.Logger) (*store.Store, error) {
	o := store.Options{Keep: cfg.srv.Keep, Flush: cfg.storeFlush, Log: log}
	switch {
	case cfg.srv.Keep <= 0:
		return nil, nil
	case cfg.cluster.URLs != "":
		st, err := store.OpenMemory(o)
		if err != nil {
			return nil, err
		}
		return st, cfg.srv.UseArchive(st, room.Snapshot{})
	case cfg.storePath == "":
		return nil, nil
	}
	st, kept, err := store.Open(cfg.storePath, o)
	if err != nil {
		return nil, err
	}
	if err := cfg.srv.UseArchive(st, kept); err != nil {
		st.Close(context.Background())
		return nil, err
	}
	log.Info("store opened", "file", cfg.storePath, "messages", len(kept.Messages))
	return st, nil
}

// serve has srv serve on each of ls in the background, and says where.
// Each Serve's error, when accepting fails for good, comes on the channel
// it returns.
func serve(srv *server.Server, ls []net.Listener, log *slog.Logger, stderr io.Writer) <-chan error {
	served := make(chan error, len(ls))
	for i, l := range ls {
		go func() { served <- srv.Serve(l) }()
		secure := i > 0
		log.Info("server started", "addr", l.Addr().String(), "tls", secure)
		if secure {
			fmt.Fprintln(stderr, "listening on", l.Addr(), "(TLS)")
		} else {
			fmt.Fprintln(stderr, "listening on", l.Addr())
		}
	}
	return served
}

// shutdown stops srv, which says BYE to its clients and gives them
// shutdownGrace to take it. It reports false if a second signal on stop
// cut the wait short: whoever sends one does not want to wait for them.
func shutdown(srv *server.Server, stop <-chan os.Signal, log *slog.Logger) bool {
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		srv.Shutdown(grace)
		close(stopped)
	}()
	select {
	case <-stopped:
		return true
	case sig := <-stop:
		log.Info("second signal, exiting now", "signal", sig.String())
		return false
	}
}
