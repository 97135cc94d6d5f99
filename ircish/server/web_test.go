package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"ircish/internal/chattest"
	"ircish/ircish/password"
)

// GET / on the chat port answers with the web client and the headers that
// keep it to itself; the line protocol goes on as before.
func TestWebPage(t *testing.T) {
	addr := startServer(t, &Server{})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(string(body)), "<!doctype html>") {
		t.Fatalf("GET / = %s %q, %.80q; want 200, an HTML page", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if got := resp.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy %q allows frames", got)
	}
	chattest.Register(t, addr, "ann") // TCP as ever
}

// With NoWeb, an HTTP request gets the plain-text answer of before.
func TestNoWeb(t *testing.T) {
	addr := startServer(t, &Server{NoWeb: true})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "not a web server") {
		t.Fatalf("GET / with NoWeb = %s %q", resp.Status, body)
	}
}

// A WebSocket speaks the line protocol, a line per message: NICK gets
// JOINED, which a TCP client sees too; a line over MaxLine gets
// ERR LINE_TOO_LONG. One from another origin is refused, unless
// WebOrigins has it.
func TestWebSocket(t *testing.T) {
	addr := startServer(t, &Server{MaxLine: 100, WebOrigins: []string{"chat.example.org"}})
	url := "ws://" + addr + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()

	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example.com"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a WebSocket from another origin: %v, %v; want 403", resp, err)
	}

	bob := chattest.Register(t, addr, "bob")
	for _, origin := range []string{"http://" + addr, "https://chat.example.org"} {
		ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
			HTTPHeader:   http.Header{"Origin": {origin}},
			Subprotocols: []string{Subprotocol},
		})
		if err != nil {
			t.Fatalf("a WebSocket from %s: %v", origin, err)
		}
		if resp.Header.Get("Sec-WebSocket-Protocol") != Subprotocol {
			t.Errorf("subprotocol %q, want %q", resp.Header.Get("Sec-WebSocket-Protocol"), Subprotocol)
		}
		expect := func(want string) {
			t.Helper()
			_, msg, err := ws.Read(ctx)
			if err != nil || !strings.HasPrefix(string(msg), want) {
				t.Fatalf("from %s: read %q, %v; want %q...", origin, msg, err, want)
			}
		}
		send := func(line string) {
			t.Helper()
			if err := ws.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				t.Fatal(err)
			}
		}
		expect("WELCOME ")
		nick := "web" + string(rune('a'+len(origin)%26))
		send("NICK " + nick)
		expect("JOINED " + nick)
		bob.Expect("^JOINED " + nick + "$")
		send("MSG " + strings.Repeat("x", 101))
		expect("ERR LINE_TOO_LONG lines are at most 100 bytes")
		send("MSG hi, tcp")
		expect("MSG " + nick + " hi, tcp")
		bob.Expect("^MSG " + nick + " hi, tcp$")
		bob.Send("MSG hi, web")
		expect("MSG bob hi, web")
		send("QUIT")
		expect("BYE goodbye")
		bob.Expect("^LEFT " + nick)
		ws.CloseNow()
	}
}

// The web client's files are all served, with their types.
func TestWebFiles(t *testing.T) {
	addr := startServer(t, &Server{})
	entries, err := webui.ReadDir("webui")
	if err != nil || len(entries) == 0 {
		t.Fatalf("webui: %v, %v", entries, err)
	}
	client := http.Client{Timeout: chattest.WaitTimeout}
	for _, e := range entries {
		resp, err := client.Get("http://" + addr + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET /%s: %s", e.Name(), resp.Status)
		}
	}
	_ = time.Second
}

// A WebSocket is told BYE as a TCP connection is: when an operator kicks
// its user, and when the server shuts down.
func TestWebSocketBye(t *testing.T) {
	l := chattest.Listen(t)
	s := &Server{}
	s.SetOperators(map[string]string{"op": password.Hash("secret")})
	addr := startServerOn(t, s, l)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	join := func(nick string) (expect func(string)) {
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			t.Fatalf("a WebSocket: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		expect = func(want string) {
			t.Helper()
			_, msg, err := ws.Read(ctx)
			if err != nil || !strings.HasPrefix(string(msg), want) {
				t.Fatalf("%s read %q, %v; want %q...", nick, msg, err, want)
			}
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte("NICK "+nick)); err != nil {
			t.Fatal(err)
		}
		expect("WELCOME ")
		expect("JOINED " + nick)
		return expect
	}

	ann := join("ann")
	op := chattest.Register(t, addr, "op")
	op.Send("OPER op secret")
	op.Expect("^OPER ")
	op.Send("KICK ann spam")
	op.Expect("^KICKED ann")
	ann("JOINED op")
	ann("BYE kicked by op: spam")

	bea := join("bea")
	sctx, cancelShutdown := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancelShutdown()
	go s.Shutdown(sctx)
	bea("BYE the server is shutting down")
}

// On a TLS port the page is served over https, and the WebSocket (wss)
// speaks the line protocol.
func TestWebOverTLS(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{chattest.SelfSigned(t)}}
	addr := startServerOn(t, &Server{}, tls.NewListener(raw, config))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / over TLS = %s %q; want 200, an HTML page", resp.Status, resp.Header.Get("Content-Type"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/ws", &websocket.DialOptions{HTTPClient: client, Subprotocols: []string{Subprotocol}})
	if err != nil {
		t.Fatalf("a WebSocket over TLS: %v", err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageText, []byte("NICK ann")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WELCOME ", "JOINED ann"} {
		if _, msg, err := ws.Read(ctx); err != nil || !strings.HasPrefix(string(msg), want) {
			t.Fatalf("read %q, %v; want %q...", msg, err, want)
		}
	}
}

// A connection handed to the web server counts against MaxClients until
// it closes: idle keep-alive connections cannot take the server's
// descriptors.
func TestWebConnectionsCount(t *testing.T) {
	addr := startServer(t, &Server{MaxClients: 1})
	page := dialFrom(t, "127.0.0.1", addr)
	if _, err := page.Write([]byte("GET / HTTP/1.1\r\nHost: chat\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := firstLineFrom(t, page); got != "HTTP/1.1 200 OK" {
		t.Fatalf("GET /: %q", got)
	}
	// The connection stays open (keep-alive): the server is full.
	full := chattest.Dial(t, addr, "full")
	full.Expect("^ERR SERVER_FULL ")
	page.Close()
	deadline := time.Now().Add(chattest.WaitTimeout)
	for {
		c := chattest.Dial(t, addr, "after")
		line := c.Expect("^(WELCOME|ERR SERVER_FULL) ")
		if strings.HasPrefix(line, "WELCOME ") {
			return
		}
		c.NetConn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for the closed web connection to free its place: got %q", chattest.WaitTimeout, line)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A binary message closes the WebSocket with status 1003.
func TestWebSocketBinary(t *testing.T) {
	addr := startServer(t, &Server{})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte("NICK ann")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		_, msg, err := ws.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusUnsupportedData {
				t.Fatalf("after a binary message: read %q, then %v (status %v); want status 1003", seen, err, st)
			}
			return
		}
		seen = append(seen, string(msg))
	}
}

// A WebSocket meets the limits a TCP connection does: flood control, and
// MaxClients, which refuses a web client in HTTP (503).
func TestWebSocketLimits(t *testing.T) {
	addr := startServer(t, &Server{MaxClients: 2, FloodRate: 1, FloodBurst: 2})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	expect := func(ws *websocket.Conn, want string) {
		t.Helper()
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %q: %v", want, err)
			}
			if strings.HasPrefix(string(msg), want) {
				return
			}
		}
	}
	ann := dial()
	for _, line := range []string{"NICK ann", "MSG 1", "MSG 2", "MSG 3"} {
		if err := ann.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	expect(ann, "ERR FLOOD ")
	expect(ann, "MSG ann 3")

	// Full: a WebSocket is refused as it asks, in HTTP; a TCP client in
	// the line protocol.
	chattest.Register(t, addr, "bob")
	_, resp, err := websocket.Dial(ctx, "ws://"+addr+"/ws", &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a WebSocket to a full server: %v, %v; want 503", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "the server is full") {
		t.Errorf("a WebSocket to a full server: %q, want it to say the server is full", body)
	}
	chattest.Dial(t, addr, "cy").Expect("^ERR SERVER_FULL ")
}
