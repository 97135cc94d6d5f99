package servercmd

// The command line: flags, their checks, and the listeners they ask for.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
	"time"

	"ircish/ircish"
	"ircish/ircish/cluster"
	"ircish/ircish/server"
)

// A config is what the command line asks for.
type config struct {
	srv           *server.Server // its limits; Log is set by run
	addr, tlsAddr string         // tlsAddr is "" without TLS
	tlsConfig     *tls.Config
	debugAddr     string
	logPath       string
	logFlush      time.Duration
	quiet         bool
	cluster       cluster.Config // URLs is "" without -nats
	storePath     string         // "": none (-store none, -nats, or -history 0)
	storeFlush    time.Duration
	opsPath       string // "": no operators
}

// defaultKeepStored is -history's default with a store.
const defaultKeepStored = 10000

// keepFlag is -history, whose default depends on -store and -nats: its
// zero value prints as "", so that -h shows no default of its own.
type keepFlag struct {
	n   int
	set bool
}

func (k *keepFlag) String() string {
	if !k.set {
		return ""
	}
	return strconv.Itoa(k.n)
}

func (k *keepFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a number")
	}
	k.n, k.set = n, true
	return nil
}

// cmdFlags are the flags that do not go straight into a config.
type cmdFlags struct {
	host, tlsCert, tlsKey string
	tlsPort               int
	keep                  keepFlag
}

// defineFlags defines the command's flags on fs, into cfg and the
// cmdFlags it returns.
func defineFlags(fs *flag.FlagSet, cfg *config) *cmdFlags {
	f := &cmdFlags{}
	srv := cfg.srv
	fs.StringVar(&f.host, "host", "", "interface `address` to listen on (default all)")
	fs.StringVar(&cfg.logPath, "log", "server.log", "log `file`, appended to")
	fs.DurationVar(&cfg.logFlush, "log-flush", 100*time.Millisecond, "longest a log record may wait to be written with others; 0: at once")
	fs.BoolVar(&srv.LogWhispers, "log-whispers", false, "log what whispers say, not only who whispered to whom")
	fs.Var(&f.keep, "history", fmt.Sprintf("keep the last `N` room messages for HISTORY (default %d with a store, %d with -store none or -nats); 0: none", defaultKeepStored, server.DefaultKeep))
	fs.StringVar(&cfg.storePath, "store", "ircish.db", "SQLite `file` that keeps the room's messages across restarts; none: memory only")
	fs.DurationVar(&cfg.storeFlush, "store-flush", 100*time.Millisecond, "longest a message may wait to be written to -store with others: what SIGKILL may lose; 0: at once")
	fs.StringVar(&cfg.opsPath, "ops", "", "`file` of operators, a line \"<name> <argon2id hash>\" each (server hash-password NAME makes one); re-read on SIGHUP")
	fs.BoolFunc("web", "serve the web client and its WebSocket on the chat ports; WELCOME waits up to 150 ms for a browser's request, 1 s after one from the same address (default true; -web=false: answer HTTP requests in plain text, and wait 5 ms)", func(v string) error {
		on, err := strconv.ParseBool(v)
		srv.NoWeb = !on
		return err
	})
	fs.Func("web-origins", "other `origins` whose pages may open a WebSocket here: patterns (comma-separated, as in Go's path.Match) of the origin's host and port, as example.com or *.example.com:8443, or with the scheme, as https://example.com", func(v string) error {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				if _, err := path.Match(o, ""); err != nil {
					return fmt.Errorf("bad pattern %q", o)
				}
				srv.WebOrigins = append(srv.WebOrigins, o)
			}
		}
		return nil
	})
	fs.BoolVar(&cfg.quiet, "quiet", false, "print no line per connection to stderr (the log has them all the same)")
	fs.IntVar(&srv.MaxLine, "max-line", server.DefaultMaxLine, "longest client line in `bytes`, without its terminator")
	fs.IntVar(&srv.SendQueue, "send-queue", server.DefaultSendQueue, "`bytes` queued for a client before it is dropped")
	fs.DurationVar(&srv.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "drop a client that takes no data for this long")
	fs.Float64Var(&srv.FloodRate, "flood", server.DefaultFloodRate, "lines per second a client may send after its burst; 0: no limit")
	fs.IntVar(&srv.FloodBurst, "flood-burst", server.DefaultFloodBurst, "lines a client may send at once")
	fs.DurationVar(&srv.RegisterTimeout, "register-timeout", server.DefaultRegisterTimeout, "close a connection that has not sent NICK by then")
	fs.DurationVar(&srv.LineTimeout, "line-timeout", server.DefaultLineTimeout, "close a connection that begins a line and does not end it by then")
	fs.IntVar(&srv.MaxClients, "max-clients", server.DefaultMaxClients, "connections at once")
	fs.IntVar(&srv.MaxPerIP, "max-per-ip", server.DefaultMaxPerIP, "connections at once from one IP address (loopback exempt)")
	fs.Float64Var(&srv.IPConnectRate, "ip-connect-rate", server.DefaultIPConnectRate, "new connections per second from one IP address after a burst of -max-per-ip (loopback exempt)")
	fs.BoolVar(&srv.LimitLoopback, "limit-loopback", false, "apply the per-IP limits to loopback addresses too")
	fs.IntVar(&srv.IPv6Prefix, "ipv6-prefix", server.DefaultIPv6Prefix, "the per-IP limits count IPv6 clients by network: its prefix length in `bits` (1 to 128)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate `file` (PEM); with -tls-key, serve TLS on -tls-port")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.IntVar(&f.tlsPort, "tls-port", ircish.DefaultTLSPort, "`port` for TLS; 0 picks a free one")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "loopback `address` (e.g. 127.0.0.1:6060) to serve metrics on: /metrics (Prometheus), /debug/vars, /debug/pprof/; empty: none")
	fs.StringVar(&cfg.cluster.URLs, "nats", "", "serve the room with other servers through NATS JetStream at these `URLs` (nats://host:port, tls://host:port), comma-separated, tried in that order; empty: alone")
	fs.StringVar(&cfg.cluster.Creds, "nats-creds", "", "NATS credentials `file`, for -nats")
	fs.StringVar(&cfg.cluster.CA, "nats-ca", "", "PEM `file` of the CAs that vouch for NATS's TLS certificates, for -nats (default the system's)")
	fs.IntVar(&cfg.cluster.Replicas, "nats-replicas", 1, "replicas of the room's stream, if this server creates it (3 on a 3-node JetStream cluster)")
	fs.StringVar(&cfg.cluster.Name, "node", "", "this server's `name` in the cluster's logs (default host:port)")
	return f
}

// parseFlags returns the configuration args ask for, or nil and the exit
// status if the command is not to run: 0 after -h, 2 for a flag it does
// not know, 1 for a bad value, which it explains on stderr.
func parseFlags(args []string, stderr io.Writer) (*config, int) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	cfg := &config{srv: &server.Server{}}
	f := defineFlags(fs, cfg)
	fail := func(format string, args ...any) (*config, int) {
		fmt.Fprintf(stderr, "server: "+format+"\n", args...)
		return nil, 1
	}
	if n := len(args); n > 0 && isNegativeNumber(args[n-1]) && !takesValue(fs, args[:n-1]) {
		return fail("invalid port %q: want a number from 0 to 65535", args[n-1]) // not a flag
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	port, err := parsePort(fs.Args())
	if err != nil {
		return fail("%v", err)
	}
	storeSet := false
	fs.Visit(func(fl *flag.Flag) { storeSet = storeSet || fl.Name == "store" })
	if err := settleHistory(cfg, f.keep, storeSet); err != nil {
		return fail("%v", err)
	}
	if err := checkFlags(cfg, f.tlsCert, f.tlsKey); err != nil {
		return fail("%v", err)
	}
	// The Server's zero values mean its defaults; none is what 0 means here.
	if cfg.srv.FloodRate == 0 {
		cfg.srv.FloodRate = -1
	}
	if cfg.srv.Keep == 0 {
		cfg.srv.Keep = -1
	}
	if cfg.opsPath != "" {
		ops, err := loadOps(cfg.opsPath)
		if err != nil {
			return fail("cannot read operators: %v", err)
		}
		cfg.srv.SetOperators(ops)
	}
	cfg.addr = net.JoinHostPort(f.host, port)
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fail("cannot load TLS certificate: %v", err)
		}
		cfg.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		cfg.tlsAddr = net.JoinHostPort(f.host, strconv.Itoa(f.tlsPort))
	}
	return cfg, 0
}

// settleHistory sets cfg's store and how much history it keeps, which
// depend on one another and on -nats; storeSet says whether -store was
// given.
func settleHistory(cfg *config, keep keepFlag, storeSet bool) error {
	if storeSet && cfg.storePath != "none" && cfg.cluster.URLs != "" {
		return errors.New("-store goes without -nats: a cluster keeps its history in NATS")
	}
	if cfg.storePath == "none" || cfg.cluster.URLs != "" || keep.set && keep.n == 0 {
		cfg.storePath = ""
	}
	switch {
	case keep.set:
		cfg.srv.Keep = keep.n
	case cfg.storePath != "":
		cfg.srv.Keep = defaultKeepStored
	default:
		cfg.srv.Keep = server.DefaultKeep
	}
	return nil
}

// checkFlags returns an error that says which flags have values out of
// range or missing their partners, if any; tlsCert and tlsKey are the
// files -tls-cert and -tls-key name.
func checkFlags(cfg *config, tlsCert, tlsKey string) error {
	srv := cfg.srv
	switch {
	case srv.Keep < 0:
		return errors.New("-history must not be negative")
	case srv.MaxLine < 1 || srv.SendQueue < 1 || srv.MaxClients < 1 || srv.MaxPerIP < 1 || srv.FloodBurst < 1:
		return errors.New("-max-line, -send-queue, -max-clients, -max-per-ip and -flood-burst must be at least 1")
	case cfg.storeFlush < 0:
		return errors.New("-store-flush must not be negative")
	case srv.FloodRate < 0 || cfg.logFlush < 0 || srv.IPConnectRate <= 0 || srv.WriteTimeout <= 0 || srv.RegisterTimeout <= 0 || srv.LineTimeout <= 0:
		return errors.New("-flood and -log-flush must not be negative; rates and timeouts must be positive")
	case srv.IPv6Prefix < 1 || srv.IPv6Prefix > 128:
		return errors.New("-ipv6-prefix must be from 1 to 128")
	case (tlsCert == "") != (tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case cfg.cluster.URLs == "" && (cfg.cluster.Creds != "" || cfg.cluster.CA != "" || cfg.cluster.Name != ""):
		return errors.New("-nats-creds, -nats-ca and -node go with -nats")
	case cfg.cluster.Replicas < 1 || cfg.cluster.Replicas > 5:
		return errors.New("-nats-replicas must be from 1 to 5")
	}
	return nil
}

// listeners are the command's open listeners: the chat's, plain then TLS,
// and the debug server's, if asked for.
type listeners struct {
	chat  []net.Listener
	debug net.Listener
}

// listen opens the listeners cfg asks for.
func listen(cfg *config) (*listeners, error) {
	ls := &listeners{}
	lc := net.ListenConfig{KeepAlive: -1} // keepAliveListener turns it on
	l, err := lc.Listen(context.Background(), "tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen: %w", errors.Unwrap(err))
	}
	ls.chat = append(ls.chat, keepAliveListener{l})
	if cfg.tlsConfig != nil {
		tl, err := lc.Listen(context.Background(), "tcp", cfg.tlsAddr)
		if err != nil {
			ls.close()
			return nil, fmt.Errorf("cannot listen for TLS: %w", errors.Unwrap(err))
		}
		ls.chat = append(ls.chat, tls.NewListener(keepAliveListener{tl}, cfg.tlsConfig))
	}
	if cfg.debugAddr != "" {
		if ls.debug, err = listenLoopback(cfg.debugAddr); err != nil {
			ls.close()
			return nil, fmt.Errorf("cannot listen for -debug-addr: %w", err)
		}
	}
	return ls, nil
}

func (ls *listeners) close() {
	for _, l := range ls.chat {
		l.Close()
	}
	if ls.debug != nil {
		ls.debug.Close()
	}
}

// takesValue reports whether the last of args is a flag that takes the
// argument after it as its value, as -flood in "-flood -1".
func takesValue(fs *flag.FlagSet, args []string) bool {
	if len(args) == 0 {
		return false
	}
	last := args[len(args)-1]
	name := strings.TrimPrefix(strings.TrimPrefix(last, "-"), "-")
	if !strings.HasPrefix(last, "-") || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, isBool := f.Value.(interface{ IsBoolFlag() bool })
	return !isBool || !b.IsBoolFlag()
}

func isNegativeNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n < 0
}

// parsePort returns the port among args, or the default.
func parsePort(args []string) (string, error) {
	switch len(args) {
	case 0:
		return strconv.Itoa(ircish.DefaultPort), nil
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
