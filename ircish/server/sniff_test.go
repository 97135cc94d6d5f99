package server

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"ircish/internal/chattest"
)

// dialFrom connects to addr from the local address ip (a 127.x address).
func dialFrom(t *testing.T, ip, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", addr, ip, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// askAfter connects from ip, waits for delay as a browser's spare
// connection does, asks for / in HTTP and returns the first line it gets.
func askAfter(t *testing.T, ip, addr string, delay time.Duration) string {
	t.Helper()
	nc := dialFrom(t, ip, addr)
	time.Sleep(delay)
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatalf("asking from %s: %v", ip, err)
	}
	return firstLineFrom(t, nc)
}

func firstLineFrom(t *testing.T, nc net.Conn) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		t.Fatalf("waited for a first line from the server: %v (got %q)", err, line)
	}
	return strings.TrimRight(line, "\r\n")
}

// A connection waits browserWait for an HTTP request before it gets
// WELCOME; webWait if its address asked in HTTP lately, in time or late,
// or meanwhile on another connection; httpWait if ten connections from its
// address spoke the line protocol in the last minute. A line
// ends the wait at once.
func TestWebSniff(t *testing.T) {
	addr := startServer(t, &Server{})
	const (
		soon = 20 * time.Millisecond  // after httpWait, before browserWait
		late = 600 * time.Millisecond // after browserWait, before webWait
	)
	if got := askAfter(t, "127.0.0.2", addr, soon); got != "HTTP/1.1 200 OK" {
		t.Fatalf("a request %v after connecting: got %q, want HTTP/1.1 200 OK", soon, got)
	}

	if got := askAfter(t, "127.0.0.3", addr, late); !strings.HasPrefix(got, "WELCOME ") {
		t.Fatalf("a request %v after connecting, from a new address: got %q, want WELCOME", late, got)
	}
	if got := askAfter(t, "127.0.0.3", addr, late); got != "HTTP/1.1 200 OK" {
		t.Fatalf("a request %v after connecting, from an address that asked late before: got %q, want HTTP/1.1 200 OK", late, got)
	}
	if got := firstLineFrom(t, dialFrom(t, "127.0.0.3", addr)); !strings.HasPrefix(got, "WELCOME ") {
		t.Fatalf("a silent connection from an address that asked in HTTP: got %q, want WELCOME", got)
	}
	typist := chattest.NewConn(t, "typist", dialFrom(t, "127.0.0.3", addr))
	typist.Send("NICK typist")
	typist.Expect("^WELCOME ")
	typist.Expect("^JOINED typist$")

	spare := dialFrom(t, "127.0.0.4", addr) // a browser's spare connection
	if got := askAfter(t, "127.0.0.4", addr, 0); got != "HTTP/1.1 200 OK" {
		t.Fatalf("a request at once: got %q, want HTTP/1.1 200 OK", got)
	}
	time.Sleep(late)
	if _, err := spare.Write([]byte("GET /app.js HTTP/1.1\r\nHost: chat\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := firstLineFrom(t, spare); got != "HTTP/1.1 200 OK" {
		t.Fatalf("a request %v after connecting, while another connection asked: got %q, want HTTP/1.1 200 OK", late, got)
	}

	for i := range 10 {
		chattest.Register(t, addr, fmt.Sprintf("bot%d", i))
	}
	if got := askAfter(t, "127.0.0.1", addr, soon); !strings.HasPrefix(got, "WELCOME ") {
		t.Fatalf("a request %v after connecting, from an address that registered 10 clients: got %q, want WELCOME", soon, got)
	}
}

// Without the web client, the wait is httpWait.
func TestNoWebSniff(t *testing.T) {
	addr := startServer(t, &Server{NoWeb: true})
	if got := askAfter(t, "127.0.0.2", addr, 20*time.Millisecond); !strings.HasPrefix(got, "WELCOME ") {
		t.Fatalf("a request 20ms after connecting: got %q, want WELCOME", got)
	}
}

// callers remembers at most maxCallers addresses; an HTTP request counts
// webMemory; the
// connections that spoke the line protocol count less as time passes.
func TestCallers(t *testing.T) {
	var c callers
	start := time.Unix(1e9, 0)
	key := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	for i := range maxCallers + 1 {
		c.saw(key(i), start.Add(time.Duration(i)*time.Millisecond), true)
	}
	now := start.Add(time.Minute)
	if len(c.m) != maxCallers || c.wait(key(maxCallers), now) != webWait {
		t.Fatalf("after %d addresses: %d remembered, the last waits %v; want %d, %v",
			maxCallers+1, len(c.m), c.wait(key(maxCallers), now), maxCallers, webWait)
	}
	if got := c.wait(key(maxCallers), start.Add(time.Minute+webMemory)); got != browserWait {
		t.Fatalf("webMemory after its request, an address waits %v, want %v", got, browserWait)
	}

	bot := key(1 << 20)
	for range 9 {
		c.saw(bot, start, false)
	}
	if got := c.wait(bot, start); got != httpWait {
		t.Fatalf("after 9 connections, an address waits %v, want %v", got, httpWait)
	}
	if got := c.wait(bot, start.Add(time.Minute+time.Second)); got != browserWait {
		t.Fatalf("a minute after 9 connections, an address waits %v, want %v", got, browserWait)
	}
	person := key(1<<20 + 1)
	for i := range 4 {
		c.saw(person, start.Add(time.Duration(i)*time.Second), false)
	}
	if got := c.wait(person, start.Add(5*time.Second)); got != browserWait {
		t.Fatalf("after 4 connections, an address waits %v, want %v", got, browserWait)
	}
}
