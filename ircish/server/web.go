package server

// The room on the web: a connection to the chat port whose first line is
// an HTTP request is handed to net/http, which serves the web client (the
// files of webui/, embedded) and, at /ws, a WebSocket that speaks the line
// protocol, a line per text message. A WebSocket is then a connection as
// a TCP one is: the same limits, commands, log and console.

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol of the line protocol: text
// messages, a line each, without CR or LF (after IRCv3's text.ircv3.net).
const Subprotocol = "text.ircish.net"

//go:embed webui
var webui embed.FS

// contentSecurity is the Content-Security-Policy of every answer: the page
// runs only its own scripts and styles, and talks only to its server.
const contentSecurity = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// A web serves the HTTP requests of the chat port's connections. Its
// zero value is ready once s is set. A connection handed to it counts
// against the connection limits until it closes, or becomes a WebSocket,
// which counts as a client of its own.
type web struct {
	s     *Server
	mu    sync.Mutex
	srv   *http.Server  // started at the first request
	conns chan net.Conn // handed over by connections that asked in HTTP
	shut  bool          // closed: no more requests
}

// start starts the HTTP server, unless it runs already, and reports
// whether it runs: not once it is closed.
func (w *web) start() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.shut || w.srv != nil {
		return !w.shut
	}
	w.conns = make(chan net.Conn)
	sub, _ := fs.Sub(webui, "webui")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", w.serveWS)
	mux.Handle("GET /", http.FileServerFS(sub))
	w.srv = &http.Server{
		Handler:           secure(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      w.s.writeTimeout(), // a WebSocket's are cleared as it is hijacked
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(w.s.log().Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, nc)
		},
		ConnState: func(nc net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				nc.(*prefixConn).release()
			}
		},
	}
	go w.srv.Serve(handoffListener{w.conns, w.s.done})
	return true
}

// secure sets the headers of every answer that keep the page to itself.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hd := rw.Header()
		hd.Set("Content-Security-Policy", contentSecurity)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(rw, r)
	})
}

// handOff gives c's connection to the HTTP server, with its first line,
// request, and the bytes read after it, rest, which c's reader took
// already. c counts against the limits until the HTTP server is done with
// its connection.
func (w *web) handOff(c *conn, request, rest []byte) {
	pre := append(append(append([]byte(nil), request...), '\r', '\n'), rest...)
	pc := &prefixConn{Conn: c.netConn, pre: pre}
	pc.release = sync.OnceFunc(func() {
		c.s.freeIP(c)
		c.logInfo("client disconnected", slog.String("cause", reasonWeb))
		c.s.removeConn(c)
	})
	if w.start() {
		select {
		case w.conns <- pc:
			return
		case <-w.s.done:
		}
	}
	closeNow(c.netConn)
	pc.release()
}

// close stops the HTTP server and closes its connections; WebSockets are
// clients of the server's own, which Shutdown ends.
func (w *web) close() {
	w.mu.Lock()
	w.shut = true
	srv := w.srv
	w.mu.Unlock()
	if srv != nil { // not under w.mu: closing a TLS connection writes to it
		srv.Close()
	}
}

// serveWS upgrades a request for /ws to a WebSocket, from the page's own
// origin or one of WebOrigins, and has the server serve the line protocol
// on it.
func (w *web) serveWS(rw http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(rw, r, &websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: w.s.WebOrigins,
	})
	if err != nil {
		w.s.logWebRefusal(r, err)
		return // Accept answered
	}
	// A line over -max-line gets ERR LINE_TOO_LONG, as on TCP; one with no
	// end after maxDiscard closes the connection.
	ws.SetReadLimit(maxDiscard)
	// The connection is hijacked: it outlives this handler, which
	// returns, so that an idle WebSocket holds no goroutine of its own.
	w.s.admit(&wsConn{ws: ws, nc: r.Context().Value(connKey{}).(*prefixConn).Conn})
}

// connKey is the key of a request's connection in its context.
type connKey struct{}

// A handoffListener is the net.Listener of the HTTP server: it accepts the
// connections handed over, until the chat server shuts down.
type handoffListener struct {
	conns <-chan net.Conn
	done  <-chan struct{}
}

func (l handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (handoffListener) Close() error   { return nil }
func (handoffListener) Addr() net.Addr { return webAddr{} }

type webAddr struct{}

func (webAddr) Network() string { return "handoff" }
func (webAddr) String() string  { return "chat port" }

// A prefixConn is a connection whose first bytes, pre, were read already.
type prefixConn struct {
	net.Conn
	pre     []byte
	release func() // once the HTTP server is done with it
}

// logWebRefusal logs a WebSocket refused for err, as refused connections
// are: at most refusalLogRate a second, none once the server shuts down,
// the client's words clipped.
func (s *Server) logWebRefusal(r *http.Request, err error) {
	s.mu.Lock()
	logged := !s.closing.Load() && s.logRefusal()
	s.mu.Unlock()
	if logged {
		s.log().Info("websocket refused", "remote", r.RemoteAddr, "origin", clip(r.Header.Get("Origin")), "err", clip(err.Error()))
	}
}

// clip returns s cut to 200 bytes at most.
func clip(s string) string { return s[:min(len(s), 200)] }

func (c *prefixConn) Read(p []byte) (int, error) {
	if c.pre == nil {
		return c.Conn.Read(p)
	}
	n := copy(p, c.pre)
	if c.pre = c.pre[n:]; len(c.pre) == 0 {
		c.pre = nil // its memory goes
	}
	return n, nil
}
