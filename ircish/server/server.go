package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"ircish/ircish"
	"ircish/ircish/room"
)

// Defaults for the Server's limits.
const (
	DefaultMaxLine         = 4096
	DefaultSendQueue       = 1 << 20
	DefaultWriteTimeout    = 30 * time.Second
	DefaultFloodRate       = 5
	DefaultFloodBurst      = 10
	DefaultRegisterTimeout = 60 * time.Second
	DefaultLineTimeout     = 30 * time.Second
	DefaultMaxClients      = 10000
	DefaultMaxPerIP        = 16
	DefaultIPConnectRate   = 1
	DefaultIPv6Prefix      = 64
	DefaultKeep            = 1000
)

// A Server serves one chat room to the clients of its listeners. Set its
// fields before calling Serve; the zero value of each is its default.
type Server struct {
	Log *slog.Logger // nil: no log

	MaxLine         int           // longest client line in bytes, without terminator
	SendQueue       int           // bytes queued for a client before it is dropped
	WriteTimeout    time.Duration // for one write to a client
	FloodRate       float64       // lines per second a client may send after its burst; negative: no limit
	FloodBurst      int           // lines a client may send at once
	RegisterTimeout time.Duration // for a new connection to register
	LineTimeout     time.Duration // for a begun line to end
	MaxClients      int           // connections at once
	MaxPerIP        int           // connections at once from one IP address
	IPConnectRate   float64       // new connections per second from one IP, after a burst of MaxPerIP
	LimitLoopback   bool          // apply MaxPerIP and IPConnectRate to loopback addresses too
	IPv6Prefix      int           // bits (1 to 128) of an IPv6 address that the per-IP limits count by
	LogWhispers     bool          // log whisper texts, not only who whispered to whom
	Keep            int           // room messages kept for HISTORY; negative: none
	NoWeb           bool          // answer HTTP requests in plain text, without the web client
	WebOrigins      []string      // other origins whose pages may open a WebSocket (host patterns, see coder/websocket)

	clock clock // nil: the real one

	hub       *hub
	guard     *guard                            // checks passwords
	web       web                               // serves HTTP requests (see web.go)
	callers   callers                           // what each address did lately (see sniff.go)
	operators atomic.Pointer[map[string]string] // name -> argon2id hash (see SetOperators)
	initOnce  sync.Once
	closing   atomic.Bool
	done      chan struct{}  // closed by Shutdown
	drops     atomic.Int64   // clients dropped for a full send queue or a stuck write
	meter     *meter         // the counters Stats reads
	serving   sync.WaitGroup // one per Serve loop
	wg        sync.WaitGroup // one per connection being served or refused

	mu            sync.Mutex
	listeners     map[net.Listener]struct{}
	conns         map[*conn]struct{}
	perIP         map[string]*ipState
	pruned        time.Time     // when perIP was last pruned
	refusing      int           // refused connections being told why
	refusalLog    *rate.Limiter // of "connection refused" records
	unlogged      int           // refusals not logged since the last count
	unloggedTimer *time.Timer   // logs the count of unlogged refusals
}

// ipState is what the server keeps about one remote IP address.
type ipState struct {
	conns    int
	connects *rate.Limiter
}

// Stats are counters of a server's work. The counts are since the server
// began; the maps have every cause or kind there is.
type Stats struct {
	Connections int   // connections now
	Members     int   // registered clients now
	Deliveries  int64 // lines queued for registered clients so far, LIST, HELP and the like aside
	Drops       int64 // clients dropped so far for a full send queue or a stuck write

	LinesIn      int64            // lines read from clients, empty ones aside
	BytesOut     int64            // bytes written to clients, replies and all
	WriteBatches int64            // writes of what was queued for a client (one or more system calls each)
	BatchSizes   []Bucket         // of WriteBatches, by their bytes: see Bucket
	FloodDelays  int64            // lines the flood limit delayed
	Dropped      map[string]int64 // clients dropped, by cause: send_queue, line_timeout and so on
	Refused      map[string]int64 // connections refused, by cause: server_full, ip_limit, ip_rate, shutting_down
	NickRefused  map[string]int64 // first NICKs refused, by cause: nick_invalid, nick_in_use, no_answer, other
	History      map[string]int64 // HISTORY commands, by kind: last, after, live
}

// Stats returns the server's counters. It is safe to call from any
// goroutine; it takes the server's and the room's locks for a moment.
func (s *Server) Stats() Stats {
	s.init()
	s.mu.Lock()
	conns := len(s.conns)
	s.mu.Unlock()
	members, deliveries := s.hub.stats()
	m := s.meter
	batches, sizes := m.batchSizes()
	return Stats{
		Connections:  conns,
		Members:      members,
		Deliveries:   deliveries,
		Drops:        s.drops.Load(),
		LinesIn:      m.linesIn.Load(),
		BytesOut:     m.bytesOut.Load(),
		WriteBatches: batches,
		BatchSizes:   sizes,
		FloodDelays:  m.floodDelays.Load(),
		Dropped:      m.dropped.read(),
		Refused:      m.refused.read(),
		NickRefused:  m.nickRefused.read(),
		History:      m.history.read(),
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("ircish: server closed")

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.meter = newMeter()
		s.hub = newHub(max(0, orDefault(s.Keep, DefaultKeep)), s.fence)
		s.hub.meter = s.meter
		s.done = make(chan struct{})
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.perIP = make(map[string]*ipState)
		s.refusalLog = rate.NewLimiter(refusalLogRate, refusalLogRate)
		if s.clock == nil {
			s.clock = realClock{}
		}
		s.guard = newGuard(s.clock.Now)
		s.web.s = s
	})
}

// UseEngine has e order the records of s's room, rather than s itself, in
// process (under the room's lock): a cluster's engine (see package cluster) has servers share the
// room. It starts e, which reads the room's state before it returns. Call
// it before Serve.
func (s *Server) UseEngine(ctx context.Context, e room.Engine) error {
	s.init()
	if err := e.Start(ctx, s.hub); err != nil {
		return err
	}
	s.hub.mu.Lock()
	s.hub.engine, s.hub.node = e, e.Node()
	s.hub.mu.Unlock()
	return nil
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return discard
	}
	return s.Log
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func (s *Server) maxLine() int                { return orDefault(s.MaxLine, DefaultMaxLine) }
func (s *Server) sendQueue() int              { return orDefault(s.SendQueue, DefaultSendQueue) }
func (s *Server) writeTimeout() time.Duration { return orDefault(s.WriteTimeout, DefaultWriteTimeout) }
func (s *Server) floodRate() float64          { return orDefault(s.FloodRate, DefaultFloodRate) }
func (s *Server) floodBurst() int             { return orDefault(s.FloodBurst, DefaultFloodBurst) }
func (s *Server) registerTimeout() time.Duration {
	return orDefault(s.RegisterTimeout, DefaultRegisterTimeout)
}
func (s *Server) lineTimeout() time.Duration { return orDefault(s.LineTimeout, DefaultLineTimeout) }
func (s *Server) maxClients() int            { return orDefault(s.MaxClients, DefaultMaxClients) }
func (s *Server) maxPerIP() int              { return orDefault(s.MaxPerIP, DefaultMaxPerIP) }
func (s *Server) ipConnectRate() float64     { return orDefault(s.IPConnectRate, DefaultIPConnectRate) }
func (s *Server) ipv6Prefix() int            { return orDefault(s.IPv6Prefix, DefaultIPv6Prefix) }

func orDefault[T int | float64 | time.Duration](v, dflt T) T {
	if v == 0 {
		return dflt
	}
	return v
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown, or the error that made accepting
// fail; Serve does not close the clients then, Shutdown does. On a TLS
// listener (tls.NewListener), a connection that a limit refuses is closed
// before the handshake, without a word: telling it why would cost a
// handshake.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if !s.trackListener(l) {
		return ErrServerClosed
	}
	defer s.untrackListener(l)
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if !isTemporary(err) {
				return err
			}
			// Out of file descriptors, say: wait for clients to leave.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("accept failed", "err", err, "retry_in", backoff)
			select { // Shutdown waits for Serve: do not keep it waiting
			case <-time.After(backoff):
			case <-s.done:
			}
			continue
		}
		backoff = 0
		s.admit(conn)
	}
}

// admit starts serving nc, a TCP or TLS connection or a WebSocket, or
// refuses it when a limit is reached.
func (s *Server) admit(nc net.Conn) {
	c := newConn(s, nc)
	_, c.web = nc.(*wsConn)
	if b, banned := s.hub.bannedAddr(c.addr()); banned {
		s.meter.refused.add("banned")
		s.refuse(nc, c.remote, room.ErrBanned(b))
		return
	}
	if err := s.addConn(c); err != nil {
		s.meter.refused.add(refusalCauses[err])
		s.refuse(nc, c.remote, err)
		return
	}
	c.logInfo("client connected")
	go c.serve()
}

// A refusal costs the server more than whoever connects: each one told
// takes a goroutine and a descriptor for up to refuseTimeout, and each one
// logged a record. So at most maxRefusing are told at once,
// the others closed without a word, and at most refusalLogRate a second
// are logged (after a burst of as many), the others counted in a record a
// second later.
const (
	maxRefusing    = 64
	refusalLogRate = 10
)

// refuse tells nc why it is refused (err), in a goroutine of its own, or
// closes it at once.
func (s *Server) refuse(nc net.Conn, remote string, err *ircish.Error) {
	_, isTLS := nc.(*tls.Conn)
	_, isWeb := nc.(*wsConn)
	s.mu.Lock()
	if isWeb && s.closing.Load() {
		// Shutdown does not wait for the web server's handlers: it may be
		// done, and the log closed.
		s.mu.Unlock()
		closeNow(nc)
		return
	}
	tell := !isTLS && s.refusing < maxRefusing
	if tell {
		s.refusing++
		s.wg.Add(1) // Shutdown waits for Serve, and so for this, before it waits for s.wg
	}
	logged := s.logRefusal()
	s.mu.Unlock()
	if logged {
		s.log().Info("connection refused", "remote", remote, "err", err.Text)
	}
	if !tell {
		closeNow(nc)
		return
	}
	// A browser asks a while after it connects: wait for its request as
	// for a connection let in, to answer it in HTTP.
	wait := time.Duration(0)
	if !isWeb && !s.NoWeb {
		wait = s.callers.wait(ipKey(remoteAddr(nc), s.ipv6Prefix()), s.clock.Now())
	}
	go func() {
		defer s.refused()
		tellRefusal(nc, err, wait)
	}()
}

func (s *Server) refused() {
	s.mu.Lock()
	s.refusing--
	s.mu.Unlock()
	s.wg.Done()
}

// logRefusal reports whether a refusal may be logged; if not, it counts
// it, and makes sure that the count is logged a second later. The caller
// holds s.mu.
func (s *Server) logRefusal() bool {
	if s.refusalLog.AllowN(s.clock.Now(), 1) {
		return true
	}
	s.unlogged++
	if s.unlogged == 1 {
		s.wg.Add(1) // done by the timer, or by Shutdown if it stops the timer
		s.unloggedTimer = time.AfterFunc(time.Second, func() {
			s.logUnlogged()
			s.wg.Done()
		})
	}
	return false
}

func (s *Server) logUnlogged() {
	s.mu.Lock()
	n := s.unlogged
	s.unlogged = 0
	s.mu.Unlock()
	s.log().Info("refusals not logged", "count", n)
}

// refuseTimeout bounds the time spent telling a refused connection why.
const refuseTimeout = time.Second

// tellRefusal tells conn it is refused for err, and closes it: in HTTP
// if its first line, sent within wait, is an HTTP request (a browser's),
// else in the line protocol.
func tellRefusal(conn net.Conn, err *ircish.Error, wait time.Duration) {
	answer := append(err.Line(), ircish.Line(ircish.Bye)...)
	if wait > 0 && asksInHTTP(conn, wait) {
		answer = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\n" +
			"Connection: close\r\n\r\n" + err.Text + "\r\n")
	}
	conn.SetDeadline(time.Now().Add(refuseTimeout))
	conn.Write(answer)
	closeWrite(conn)
	io.CopyN(io.Discard, conn, lingerBytes) // see linger
	conn.Close()
}

// asksInHTTP reports whether conn's first line, sent within wait, is an
// HTTP request.
func asksInHTTP(conn net.Conn, wait time.Duration) bool {
	conn.SetReadDeadline(time.Now().Add(wait))
	var buf [512]byte
	n, _ := conn.Read(buf[:])
	return httpRequest.Match(buf[:n])
}

// Refusals of a connection by its limits (see addConn), beside
// errShuttingDown.
var (
	errServerFull = ircish.NewError(ircish.CodeServerFull, "the server is full; try again later")
	errIPFull     = ircish.NewError(ircish.CodeServerFull, "too many connections from your address")
	errIPRate     = ircish.NewError(ircish.CodeServerFull, "too many new connections from your address; slow down")
)

// addConn registers c as served, unless a limit forbids it: it returns
// one of the refusals above.
func (s *Server) addConn(c *conn) *ircish.Error {
	addr := remoteAddr(c.netConn)
	limited := addr.IsValid() && (s.LimitLoopback || !addr.IsLoopback())
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing.Load():
		return errShuttingDown
	case len(s.conns) >= s.maxClients():
		return errServerFull
	}
	if limited {
		key := ipKey(addr, s.ipv6Prefix()).String()
		s.prune(s.clock.Now())
		st := s.perIP[key]
		if st == nil {
			if len(s.perIP) >= s.maxClients()+maxIdleAddrs {
				s.forgetIdleAddr()
			}
			st = &ipState{connects: rate.NewLimiter(rate.Limit(s.ipConnectRate()), s.maxPerIP())}
			s.perIP[key] = st
		}
		switch {
		case st.conns >= s.maxPerIP():
			return errIPFull
		case !st.connects.AllowN(s.clock.Now(), 1):
			return errIPRate
		}
		st.conns++
		c.ip = key
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return nil
}

// freeIP frees c's per-IP place, as c leaves.
func (s *Server) freeIP(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.perIP[c.ip]; st != nil {
		st.conns--
	}
}

// removeConn drops c, whose goroutine ends.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// pruneEvery is how often the server forgets the addresses it no longer
// needs to know.
const pruneEvery = time.Minute

// prune drops what the server keeps about addresses once it holds no
// information: no connections, and a connect rate limiter back at its full
// burst. The caller holds s.mu.
func (s *Server) prune(now time.Time) {
	if now.Before(s.pruned.Add(pruneEvery)) {
		return
	}
	s.pruned = now
	for ip, st := range s.perIP {
		if st.conns == 0 && st.connects.TokensAt(now) >= float64(st.connects.Burst()) {
			delete(s.perIP, ip)
		}
	}
}

// maxIdleAddrs bounds the addresses the server remembers only for their
// connect rate, without a connection. An entry costs about 200 bytes.
const maxIdleAddrs = 1 << 14

// forgetIdleAddr forgets one address that has no connection, to make room
// under a spray of addresses. Which one does not matter much: it only loses
// its connect rate's history, and map order picks at random. There is one:
// the caller found the map full, and at most MaxClients addresses have
// connections. The caller holds s.mu.
func (s *Server) forgetIdleAddr() {
	for key, st := range s.perIP {
		if st.conns == 0 {
			delete(s.perIP, key)
			return
		}
	}
}

// ipKey returns the network that the per-IP limits count addr in: an IPv4
// address (IPv4-mapped IPv6 included) alone, an IPv6 address with the
// others of its first v6Bits bits, since a single host or subscriber
// usually has a whole /64 (or more) to pick addresses from.
func ipKey(addr netip.Addr, v6Bits int) netip.Prefix {
	addr = addr.Unmap()
	bits := addr.BitLen()
	if addr.Is6() {
		bits = v6Bits
	}
	p, _ := addr.Prefix(bits) // bits is in range; a zero addr gives a zero Prefix
	return p
}

// remoteAddr returns conn's remote IP address, IPv4-mapped ones unmapped,
// or the zero Addr if it has none (not TCP).
func remoteAddr(conn net.Conn) netip.Addr {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

func (s *Server) trackListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.listeners[l] = struct{}{}
	s.serving.Add(1)
	return true
}

func (s *Server) untrackListener(l net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.listeners, l)
	s.serving.Done()
}

func (s *Server) shuttingDown() bool { return s.closing.Load() }

// cutOff reports whether the server is cut off from its cluster (see
// room.Room's Fence).
func (s *Server) cutOff() bool { return s.hub.fenced.Load() }

// fence wakes every client's reader, which finds the server cut off from
// its cluster, says BYE and ends.
func (s *Server) fence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		closeRead(c.netConn)
	}
}

// Shutdown stops the listeners, has every client told BYE and waits until
// the clients are gone or ctx ends; then it closes what is left and returns
// ctx's error. When it returns, every Serve is done with its connections
// (it returns ErrServerClosed) and the server logs nothing more.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	if !s.closing.Swap(true) {
		close(s.done)
	}
	for l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()
	s.web.close()
	// The room hands out what is pending and says nothing more, before the
	// readers wake to say BYE; not under s.mu, as it waits for hand-outs
	// that write.
	s.hub.close()
	s.mu.Lock()
	for c := range s.conns {
		closeRead(c.netConn) // its reader wakes, says BYE and closes
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		// A connection accepted as its listener closed may still be being
		// admitted: it joins s.wg, which must not happen while s.wg.Wait
		// waits (a WaitGroup misuse), and it logs, which must happen before
		// Shutdown returns and the log is closed.
		s.serving.Wait()
		// Log a pending count of unlogged refusals now, rather than wait
		// for its timer. The Serve loops, which set the timer, are done.
		if t := s.unloggedTimer; t != nil && t.Stop() {
			s.logUnlogged()
			s.wg.Done()
		}
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			closeNow(c.netConn)
		}
		s.mu.Unlock()
		<-done
		err = ctx.Err()
	}
	// In a cluster, the records of the clients' leaving go to the stream
	// before the server leaves NATS: the other servers tell their users.
	if s.hub.engine != nil {
		s.hub.engine.Close(ctx)
	}
	return err
}

// closeRead ends the receiving side of conn: its reader reads EOF.
func closeRead(conn net.Conn) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	if cr, ok := conn.(interface{ CloseRead() error }); !ok || cr.CloseRead() != nil {
		conn.SetReadDeadline(time.Now())
	}
}

// A clock tells the time and times waits. Tests replace the real one.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// isTemporary reports whether accepting may work again later.
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
