package server

import (
	"ircish/internal/chattest"
	"ircish/ircish"

	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lastConnListener is a listener whose Accept waits until the listener is
// closed, then hands out one last connection: one accepted just as the
// server shuts down.
type lastConnListener struct {
	addr      net.Addr
	accepting chan struct{} // closed at the first Accept
	closed    chan struct{}
	last      chan net.Conn
	once      sync.Once
	firstOnce sync.Once
}

// newLastConnListener returns a lastConnListener whose last connection is
// the server's side of a real loopback connection that its client has
// already closed.
func newLastConnListener(t *testing.T) *lastConnListener {
	t.Helper()
	server, client := loopbackPair(t)
	client.Close()
	l := &lastConnListener{
		addr:      server.LocalAddr(),
		accepting: make(chan struct{}),
		closed:    make(chan struct{}),
		last:      make(chan net.Conn, 1),
	}
	l.last <- server
	t.Cleanup(func() { server.Close() })
	return l
}

func (l *lastConnListener) Accept() (net.Conn, error) {
	l.firstOnce.Do(func() { close(l.accepting) })
	<-l.closed
	select {
	case c := <-l.last:
		return c, nil
	default:
		return nil, net.ErrClosed
	}
}

func (l *lastConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *lastConnListener) Addr() net.Addr { return l.addr }

// A connection accepted as the listener closes is refused, and Shutdown
// waits for that: when it returns, the refusal is logged, so that nothing
// is logged after the log is closed. Under -race, the test also catches a
// refusal joining the WaitGroup that Shutdown already waits on.
func TestShutdownWaitsForAConnectionAcceptedAsItCloses(t *testing.T) {
	for i := range 50 {
		var log chattest.LogBuffer
		s := &Server{Log: log.Logger()}
		l := newLastConnListener(t)
		served := make(chan error, 1)
		go func() { served <- s.Serve(l) }()
		select {
		case <-l.accepting:
		case <-time.After(chattest.WaitTimeout):
			t.Fatalf("Serve did not call Accept within %v", chattest.WaitTimeout)
		}
		ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
		err := s.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: Shutdown = %v, want nil", i, err)
		}
		const want = `msg="connection refused" remote=127.0.0.1:`
		if got := log.String(); !strings.Contains(got, want) {
			t.Fatalf("round %d: when Shutdown returned, the log was %q, want a record with %q", i, got, want)
		}
		select {
		case err := <-served:
			if err != ErrServerClosed {
				t.Fatalf("round %d: Serve = %v, want ErrServerClosed", i, err)
			}
		case <-time.After(chattest.WaitTimeout):
			t.Fatalf("round %d: Serve did not return within %v of Shutdown", i, chattest.WaitTimeout)
		}
	}
}

// addrConn is a connection that has only a remote address: enough to be
// admitted, not to be served.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// addFrom asks s to admit a connection from remote (ip:port), and returns
// the connection and the refusal.
func addFrom(s *Server, remote string) (*conn, *ircish.Error) {
	a := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(remote))
	c := newConn(s, addrConn{remote: a})
	return c, s.addConn(c)
}

func TestIPKey(t *testing.T) {
	tests := []struct {
		addr   string
		v6Bits int
		want   string
	}{
		{"192.0.2.1", 64, "192.0.2.1/32"},
		{"::ffff:192.0.2.1", 64, "192.0.2.1/32"}, // IPv4 on a dual-stack socket
		{"::ffff:192.0.2.1", 48, "192.0.2.1/32"},
		{"2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2:3:4:5:6", 48, "2001:db8:1::/48"},
		{"2001:db8:1:2:3:4:5:6", 128, "2001:db8:1:2:3:4:5:6/128"},
		{"fe80::1%eth0", 64, "fe80::/64"},
	}
	for _, tt := range tests {
		got := ipKey(netip.MustParseAddr(tt.addr), tt.v6Bits)
		if got.String() != tt.want {
			t.Errorf("ipKey(%q, %d) = %v, want %v", tt.addr, tt.v6Bits, got, tt.want)
		}
	}
}

// The per-IP limits count an IPv6 client by its /64 (or -ipv6-prefix), and
// an IPv4 client the same whether its address comes IPv4-mapped or not.
func TestPerIPLimitsCountIPv6ByNetwork(t *testing.T) {
	full := "too many connections from your address"
	tests := []struct {
		v6Bits int
		remote string
		want   string // the refusal, or "" for admitted
	}{
		{0, "[2001:db8:0:1::1]:1000", ""},
		{0, "[2001:db8:0:1::2]:1000", ""},
		{0, "[2001:db8:0:1:ffff:ffff:ffff:ffff]:1000", full},
		{0, "[2001:db8:0:2::1]:1000", ""},
		{0, "192.0.2.1:1000", ""},
		{0, "[::ffff:192.0.2.1]:1001", ""},
		{0, "192.0.2.1:1002", full},
		{0, "192.0.2.2:1000", ""},
		{48, "[2001:db8:0:1::1]:1000", ""},
		{48, "[2001:db8:0:2::1]:1000", ""},
		{48, "[2001:db8:0:3::1]:1000", full},
		{48, "[2001:db8:1:3::1]:1000", ""},
		{128, "[2001:db8:0:1::1]:1000", ""},
		{128, "[2001:db8:0:1::1]:1001", ""},
		{128, "[2001:db8:0:1::2]:1000", ""},
	}
	servers := make(map[int]*Server)
	for _, tt := range tests {
		s := servers[tt.v6Bits]
		if s == nil {
			s = &Server{MaxPerIP: 2, IPv6Prefix: tt.v6Bits, clock: newFakeClock()}
			s.init()
			servers[tt.v6Bits] = s
		}
		_, err := addFrom(s, tt.remote)
		got := ""
		if err != nil {
			got = err.Text
		}
		if got != tt.want {
			t.Errorf("with IPv6Prefix %d, add(%q) = %q, want %q", tt.v6Bits, tt.remote, got, tt.want)
		}
	}
}

// A spray of addresses, each connecting once, leaves the server knowing at
// most max-clients plus maxIdleAddrs of them, and it never forgets one that
// has connections.
func TestPerIPStateIsBounded(t *testing.T) {
	s := &Server{MaxClients: 10, clock: newFakeClock()}
	s.init()
	for i := range 5 {
		if _, err := addFrom(s, fmt.Sprintf("198.51.100.%d:1000", i)); err != nil {
			t.Fatalf("add from 198.51.100.%d: %v", i, err)
		}
	}
	limit := s.MaxClients + maxIdleAddrs
	for i := range 2 * limit {
		c, err := addFrom(s, fmt.Sprintf("[2001:db8:%x:%x::1]:1000", i>>16, i&0xffff))
		if err != nil {
			t.Fatalf("connection %d of the spray: %v", i, err)
		}
		s.freeIP(c)
		s.removeConn(c)
	}
	if n := len(s.perIP); n > limit {
		t.Errorf("after a spray of %d addresses, %d are known, want at most %d", 2*limit, n, limit)
	}
	for i := range 5 {
		key := netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 32).String()
		if st := s.perIP[key]; st == nil || st.conns != 1 {
			t.Errorf("after the spray, %s, which has a connection, is known as %+v, want 1 connection", key, st)
		}
	}
}

// occupy fills a server of one client: it connects and waits for WELCOME.
func occupy(t *testing.T, addr string) {
	t.Helper()
	c := chattest.Dial(t, addr, "occupant")
	c.Expect("^WELCOME ")
}

// At most maxRefusing refused connections are told why at once; past that
// a refused connection is closed without a word.
func TestRefusalsToldAtOnceAreBounded(t *testing.T) {
	addr := startServer(t, &Server{MaxClients: 1})
	occupy(t, addr)
	start := time.Now()
	for i := range maxRefusing {
		// Each is told, then waits up to refuseTimeout for its client,
		// who does not close, to go.
		chattest.Dial(t, addr, fmt.Sprintf("refused%d", i))
	}
	extra := chattest.Dial(t, addr, "extra")
	extra.Closed()
	if len(extra.Seen) > 0 && time.Since(start) >= refuseTimeout {
		t.Skipf("%v went by before the last connection was refused: the first refusals may have ended", time.Since(start))
	}
	if len(extra.Seen) > 0 {
		t.Errorf("with %d refusals being told, one more was told %q, want it closed without a word", maxRefusing, extra.Seen)
	}
}

// A full server refuses a TLS client before the handshake, without a word:
// telling it would cost the server a handshake.
func TestTLSRefusedBeforeHandshake(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{chattest.SelfSigned(t)}}
	addr := startServerOn(t, &Server{MaxClients: 1}, tls.NewListener(raw, config))
	// The occupant, its handshake not done, is admitted all the same: it
	// is accepted first.
	occupant, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer occupant.Close()

	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		c.Close()
		t.Fatal("a TLS client of a full server finished its handshake, want it refused before")
	}
}

// Refusals are logged at most refusalLogRate a second, after a burst of as
// many; the others are counted in a record a second later, or at Shutdown.
func TestRefusalLogIsRateLimited(t *testing.T) {
	var log chattest.LogBuffer
	s := &Server{MaxClients: 1, Log: log.Logger(), clock: newFakeClock()} // the clock stands still: no refill
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	addr := l.Addr().String()
	occupy(t, addr)
	refuseSome := func(n int) {
		for i := range n {
			c := chattest.Dial(t, addr, fmt.Sprintf("refused%d", i))
			c.Send("NICK x")              // no wait for an HTTP request
			c.Expect("^ERR SERVER_FULL ") // admit has logged, or counted, it
			c.NetConn.Close()
		}
	}

	refuseSome(30)
	chattest.WaitFor(t, "a count of unlogged refusals in the log", func() bool {
		return strings.Contains(log.String(), `msg="refusals not logged"`)
	})
	if got, want := refusalRecords(log.String()), []int{refusalLogRate, 20}; !slices.Equal(got, want) {
		t.Errorf("after 30 refusals, the log has %d refusals and counts %v unlogged, want %d and [%d]\n%s", got[0], got[1:], want[0], want[1], log.String())
	}

	refuseSome(5)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if got, want := refusalRecords(log.String()), []int{refusalLogRate, 20, 5}; !slices.Equal(got, want) {
		t.Errorf("after 5 more refusals and Shutdown, the log has %d refusals and counts %v unlogged, want %d and %v\n%s", got[0], got[1:], want[0], want[1:], log.String())
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
}

// refusalRecords returns how many "connection refused" records log has,
// then the counts of its "refusals not logged" records.
func refusalRecords(log string) []int {
	counts := []int{0}
	for _, line := range strings.Split(log, "\n") {
		var n int
		switch {
		case strings.Contains(line, `msg="connection refused" `):
			counts[0]++
		case strings.Contains(line, `msg="refusals not logged"`):
			fmt.Sscanf(line[strings.Index(line, "count="):], "count=%d", &n)
			counts = append(counts, n)
		}
	}
	return counts
}
