package servercmd

import (
	"errors"
	"expvar"
	"ircish/ircish/server"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
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

// serveDebug serves net/http/pprof and, at /debug/vars, the server's
// counters (expvar "ircish") on l, until l is closed.
func serveDebug(l net.Listener, srv *server.Server) {
	expvar.Publish("ircish", expvar.Func(func() any { return srv.Stats() }))
	go http.Serve(l, nil)
}
