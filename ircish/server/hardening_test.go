package server

import (
	"ircish/internal/chattest"
	"ircish/ircish"

	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A client that floods is paced by its token bucket: its lines are delayed,
// none is lost or reordered, it hears of it once, and the others' lines
// keep flowing while it waits.
func TestFloodIsPacedNotDropped(t *testing.T) {
	clock := newFakeClock()
	addr := startServer(t, &Server{clock: clock})
	alice := chattest.Register(t, addr, "alice")
	bob := chattest.Register(t, addr, "bob")
	flo := chattest.Register(t, addr, "flo")

	clock.hold.Lock()
	const n = 1000
	var flood strings.Builder
	for i := range n {
		fmt.Fprintf(&flood, "MSG flood %d\n", i)
	}
	if _, err := io.WriteString(flo.NetConn, flood.String()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-clock.sleep:
	case <-time.After(chattest.WaitTimeout):
		t.Fatal("the flood was never paced")
	}
	// flo waits for tokens; bob is not held up.
	bob.Send("MSG meanwhile")
	alice.Expect("^MSG bob meanwhile$")
	clock.hold.Unlock()

	alice.Expect(fmt.Sprintf("^MSG flo flood %d$", n-1))
	var got []string
	meanwhile := -1
	for _, line := range alice.Seen {
		switch {
		case strings.HasPrefix(line, "MSG flo "):
			got = append(got, line)
		case line == "MSG bob meanwhile":
			meanwhile = len(got)
		}
	}
	for i, line := range got {
		if want := fmt.Sprintf("MSG flo flood %d", i); line != want {
			t.Fatalf("alice's flood line %d = %q, want %q", i, line, want)
		}
	}
	if meanwhile == -1 || meanwhile >= n-1 {
		t.Errorf("bob's message came after flood line %d of %d, want it to overtake the flood", meanwhile, n)
	}
	flo.Barrier()
	if floods := countMatching(flo.Seen, "ERR FLOOD "); floods != 1 {
		t.Errorf("flo got %d ERR FLOOD lines, want 1; first lines: %q", floods, flo.Seen[:min(20, len(flo.Seen))])
	}
	// NICK, 1000 MSG and PING are 1002 lines; a burst of 10, then 5 a second.
	want := time.Duration(float64(1002-DefaultFloodBurst) / DefaultFloodRate * float64(time.Second))
	if d := clock.sleptInAll() - want; d < -time.Second || d > time.Second {
		t.Errorf("flo was delayed %v in all, want about %v", clock.sleptInAll(), want)
	}
}

func countMatching(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

// A registered client that never reads is dropped once its send queue is
// full; the others' deliveries stay fast and the heap stays small.
func TestSlowReaderIsDropped(t *testing.T) {
	const (
		clients  = 50
		msgs     = 40               // from each client
		size     = 1000             // so that the non-reader gets 2 MB, twice its send queue
		maxDelay = 10 * time.Second // generous: 2 cores, race detector, other tests
		maxHeap  = 256 << 20        // the test's own 50 clients buffer lines too, when a busy machine slows them
	)
	s := &Server{FloodRate: -1}
	addr := startServerOn(t, s, listenSmallSendBuffers(t))
	slow := dialTinyReceiveBuffer(t, addr)
	if _, err := io.WriteString(slow, "NICK slow\n"); err != nil {
		t.Fatal(err)
	}
	conns := make([]*chattest.Conn, clients)
	for i := range conns {
		conns[i] = chattest.Register(t, addr, fmt.Sprintf("c%d", i))
	}
	conns[0].Barrier() // slow's JOINED came first, so slow is in the room

	peak := watchHeap(t)
	pad := strings.Repeat("x", size)
	say := func(i, m int) { conns[i].Send(fmt.Sprintf("MSG %d %d %s", time.Now().UnixNano(), m, pad)) }
	var wg sync.WaitGroup
	delays := make([]time.Duration, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got, left := 0, false; got < clients*msgs || !left; {
				line := c.Expect(`^(MSG c\d+ \d+ \d+ x+|LEFT slow send queue exceeded)$`)
				c.Seen = c.Seen[len(c.Seen)-1:] // the heap is for the server
				if line == "LEFT slow send queue exceeded" {
					left = true
					continue
				}
				got++
				var from, m int
				var sent int64
				fmt.Sscanf(line, "MSG c%d %d %d", &from, &sent, &m)
				delays[i] = max(delays[i], time.Since(time.Unix(0, sent)))
				// Like chatbench: a client says its next message once the
				// first client has seen its last one.
				if i == 0 && m+1 < msgs {
					say(from, m+1)
				}
			}
		}()
	}
	for i := range conns {
		say(i, 0)
	}
	wg.Wait()
	worst := slices.Max(delays)
	t.Logf("worst delivery delay %v; peak heap %d KiB", worst, peak()/1024)
	if worst > maxDelay {
		t.Errorf("a delivery took %v, want at most %v", worst, maxDelay)
	}
	if p := peak(); p > maxHeap {
		t.Errorf("peak heap %d MiB, want at most %d MiB", p>>20, maxHeap>>20)
	}
	if dropped := s.Stats().Dropped; dropped["send_queue"] != 1 {
		t.Errorf("clients dropped by cause: %v, want send_queue: 1", dropped)
	}
}

// dialTinyReceiveBuffer connects with a small socket receive buffer, and
// listenSmallSendBuffers makes the server's sockets' send buffers small: a
// peer that does not read then fills the server's queue for it fast.
func dialTinyReceiveBuffer(t *testing.T, addr string) net.Conn {
	d := net.Dialer{Control: setBuffer(syscall.SO_RCVBUF, 4096)}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func listenSmallSendBuffers(t *testing.T) net.Listener {
	lc := net.ListenConfig{Control: setBuffer(syscall.SO_SNDBUF, 16<<10)}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func setBuffer(opt, size int) func(_, _ string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, size)
		})
		return err
	}
}

// watchHeap samples the heap until the test ends; the returned function
// gives the largest sample so far.
func watchHeap(t *testing.T) func() uint64 {
	var mu sync.Mutex
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// Hundreds of connections do random things for a while. Afterwards every
// client that stayed saw the same broadcasts in the same order, and no
// goroutine or connection is left over.
func TestSoak(t *testing.T) {
	actors, stayers, run := 300, 5, 2*time.Second
	if testing.Short() {
		actors, run = 100, 500*time.Millisecond
	}
	baseline := runtime.NumGoroutine()
	s := &Server{FloodRate: -1}
	addr := startServer(t, s)

	stay := make([]*chattest.Conn, stayers)
	for i := range stay {
		stay[i] = chattest.Register(t, addr, fmt.Sprintf("stay%d", i))
	}
	for _, c := range stay {
		c.Barrier()
		c.Seen = nil // from here on, all stayers are in the room
	}

	var wg sync.WaitGroup
	deadline := time.Now().Add(run)
	for i := range actors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			act(t, addr, i, deadline)
		}()
	}
	wg.Wait()
	// Dropped connections may not have been noticed yet.
	chattest.WaitFor(t, "only the stayers left in the room", func() bool {
		return s.Stats().Members == stayers
	})

	var want []string
	for i, c := range stay {
		c.Barrier()
		got := broadcasts(c.Seen)
		if i == 0 {
			want = got
			t.Logf("each stayer saw %d broadcasts", len(want))
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("stay%d saw a different sequence of %d broadcasts than stay0's %d; first difference at %d",
				i, len(got), len(want), firstDifference(got, want))
		}
	}
	for _, c := range stay {
		c.Send("QUIT")
		c.Closed()
	}

	chattest.WaitFor(t, "no clients left on the server", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.conns) == 0 && len(s.perIP) == 0
	})
	chattest.WaitFor(t, fmt.Sprintf("goroutines back to %d (+1 for Serve)", baseline), func() bool {
		return runtime.NumGoroutine() <= baseline+1
	})
}

// act plays one random user until the deadline: it chats, whispers, renames,
// lists, sends garbage, and now and then quits or drops its connection and
// comes back. A PING round trip after each step keeps it from outrunning
// the server. At the deadline it quits.
func act(t *testing.T, addr string, id int, deadline time.Time) {
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	for gen := 0; time.Now().Before(deadline); gen++ {
		nick := fmt.Sprintf("a%dg%d", id, gen)
		c := chattest.Register(t, addr, nick)
		for n, gone := 0, false; !gone; n++ {
			if !time.Now().Before(deadline) {
				c.Send("QUIT done")
				c.Closed()
				return
			}
			switch rng.IntN(20) {
			case 0:
				c.Send("QUIT soak")
				c.Closed()
				gone = true
			case 1:
				c.NetConn.Close()
				gone = true
			case 2:
				c.Send(fmt.Sprintf("NICK %sr%d", nick, n))
			case 3:
				c.Send(fmt.Sprintf("WHISPER stay%d psst %d", rng.IntN(3), n))
			case 4:
				c.Send("LIST")
			case 5:
				c.Send([]string{"\xff\xfe", "MSG \x1b[2J", "FOO bar", strings.Repeat("x", 5000), "", "WHISPER nobody hi"}[rng.IntN(6)])
			default:
				c.Send(fmt.Sprintf("MSG %s says %d", nick, n))
			}
			if !gone {
				c.Barrier()
			}
		}
	}
}

// broadcasts keeps the lines every member of the room gets.
func broadcasts(lines []string) []string {
	var b []string
	for _, l := range lines {
		verb, _, _ := strings.Cut(l, " ")
		switch verb {
		case ircish.Joined, ircish.Left, ircish.Renamed, ircish.Msg:
			b = append(b, l)
		}
	}
	return b
}

func firstDifference[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Shutdown ends within its grace even when a client that has left still
// has lines queued for a peer that does not read them.
func TestShutdownDoesNotWaitForAStuckPeer(t *testing.T) {
	s := &Server{FloodRate: -1, WriteTimeout: time.Minute}
	l := listenSmallSendBuffers(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	addr := l.Addr().String()

	stuck := dialTinyReceiveBuffer(t, addr)
	if _, err := io.WriteString(stuck, "NICK stuck\n"); err != nil {
		t.Fatal(err)
	}
	talker := chattest.Register(t, addr, "talker")
	chattest.WaitFor(t, "stuck to join too", func() bool { // its NICK may come after talker's
		s.hub.mu.Lock()
		defer s.hub.mu.Unlock()
		return len(s.hub.state.People()) == 2
	})
	pad := strings.Repeat("x", 3000)
	for range 200 { // 600 KB, far more than the sockets hold
		talker.Send("MSG " + pad)
	}
	talker.Barrier()
	stuck.(*net.TCPConn).CloseWrite() // its reader ends; its writer is stuck
	talker.Expect("^LEFT stuck connection lost$")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown = %v, want %v: the stuck writer should have kept it waiting", err, context.DeadlineExceeded)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Shutdown took %v, want about its 2 s grace", d)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}

// The server forgets an address once it has no connections and its connect
// limiter has refilled, so that a scan from many addresses costs nothing
// lasting.
func TestPerIPStateIsPruned(t *testing.T) {
	clock := newFakeClock()
	s := &Server{clock: clock, LimitLoopback: true}
	s.init()
	start := clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(start) // the first prune happens at once
	for i := range 1000 {
		st := &ipState{connects: rate.NewLimiter(rate.Limit(s.ipConnectRate()), s.maxPerIP())}
		st.connects.AllowN(start, 1) // one connection, gone
		s.perIP[fmt.Sprintf("192.0.2.%d", i)] = st
	}
	s.perIP["198.51.100.1"] = &ipState{conns: 1, connects: rate.NewLimiter(1, 16)} // still connected
	s.prune(start.Add(time.Second))
	if len(s.perIP) != 1001 {
		t.Fatalf("after a second, %d addresses are known, want all 1001: pruning runs once a minute", len(s.perIP))
	}
	s.prune(start.Add(pruneEvery))
	if len(s.perIP) != 1 {
		t.Errorf("after a minute, %d addresses are known, want 1, the one still connected", len(s.perIP))
	}
}

// With NoWeb, a web client's request, there as the server takes the
// connection, gets an answer in HTTP, which a browser or curl shows, and
// no WELCOME; the connection is closed. (The request is sent before the server serves,
// so that it is there however busy the machine: junk_http.txtar, whose
// requests may come late, checks the rest.)
func TestWebRequestAtOnce(t *testing.T) {
	for _, request := range []string{
		"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
		"POST /login HTTP/1.0\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nCookie: " + strings.Repeat("0", 2000) + "\r\n\r\n",
	} {
		l := chattest.Listen(t)
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, request); err != nil {
			t.Fatal(err)
		}
		startServerOn(t, &Server{NoWeb: true}, l)
		c.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != string(httpAnswer) {
			t.Errorf("request %.30q: got %q (%v), want the HTTP answer and the end", request, got, err)
		}
	}
}
