package servercmd

import (
	"errors"
	"expvar"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"ircish/ircish/server"
)

// listenLoopback listens on addr, which must be a loopback address: the
// debug server tells anyone who asks what the server is doing.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, errors.New("not a loopback address: " + host)
	}
	return net.Listen("tcp", addr)
}

// serveDebug serves debugHandler's pages on l, until l is closed, with
// the metrics of srv and of others (a cluster's engine, say). The expvar
// "ircish", which is the process's, gives srv's Stats from then on.
func serveDebug(l net.Listener, srv *server.Server, others ...prometheus.Collector) {
	varsServer.Store(srv)
	publishVars.Do(func() {
		expvar.Publish("ircish", expvar.Func(func() any { return varsServer.Load().Stats() }))
	})
	go http.Serve(l, debugHandler(newRegistry(srv, others...)))
}

// varsServer is the server whose Stats the expvar "ircish" gives: it can
// be published only once in a process, which may run the command again
// (a test).
var (
	varsServer  atomic.Pointer[server.Server]
	publishVars sync.Once
)

// debugHandler serves the metrics of reg at /metrics, in the Prometheus
// text format, and what net/http/pprof and expvar put on
// http.DefaultServeMux: /debug/pprof/, and at /debug/vars the server's
// counters (expvar "ircish").
func debugHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", http.DefaultServeMux)
	return mux
}
