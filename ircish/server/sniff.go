package server

// The chat port serves two protocols: in the line protocol the server
// speaks first (WELCOME), in HTTP the client does. So a new connection
// gets WELCOME only after a wait for an HTTP request, or at once if its
// first line comes sooner. A browser does not ask at once: to save a
// round trip it connects as it starts to load a page, and asks tens of
// milliseconds later (7 to 72 measured, Chromium on a busy 2-core
// machine); it may open a spare connection too, and ask on it hundreds of
// milliseconds later. A connection that got WELCOME is lost to it: a
// browser cannot read WELCOME as an answer. The wait depends on what the
// server saw of the address lately:
//   - it asked in HTTP within webMemory: webWait, for a browser's spare
//     connections and its next visits;
//   - its connections spoke the line protocol often lately (programScore:
//     five at once, ten in a minute, or four a minute for a while):
//     httpWait, as programs that connect many times (bots, bridges, load
//     tests) wait for WELCOME; a browser there may fail its first visit;
//   - else browserWait, which a person with telnet hardly notices.
// Without the web client (NoWeb) it is always httpWait.

import (
	"errors"
	"math"
	"net/netip"
	"sync"
	"time"
)

const (
	httpWait     = 5 * time.Millisecond
	browserWait  = 150 * time.Millisecond
	webWait      = time.Second
	webMemory    = 5 * time.Minute
	programScore = 5 // of caller.spoke
	// maxCallers bounds the addresses remembered; the oldest go first.
	maxCallers = 10000
)

// callers remembers what each address did lately. Its zero value is
// ready; it is safe to call from any goroutine.
type callers struct {
	mu sync.Mutex
	m  map[netip.Prefix]*caller
}

// A caller is what callers knows of one address.
type caller struct {
	asked time.Time // its last HTTP request
	spoke float64   // connections that spoke the line protocol, halved each minute
	seen  time.Time // its last connection's first line
}

// get returns addr's entry, made at now if new. The caller holds c.mu.
func (c *callers) get(addr netip.Prefix, now time.Time) *caller {
	if c.m == nil {
		c.m = make(map[netip.Prefix]*caller)
	}
	k := c.m[addr]
	if k == nil {
		if len(c.m) >= maxCallers {
			forgetOldest(c.m, func(k *caller) time.Time { return k.seen })
		}
		k = &caller{}
		c.m[addr] = k
	}
	k.spoke = k.spokeAt(now)
	k.seen = now
	return k
}

// saw notes the first line of a connection from addr at now: an HTTP
// request, or a line of the line protocol.
func (c *callers) saw(addr netip.Prefix, now time.Time, http bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.get(addr, now)
	if http {
		k.asked = now
	} else {
		k.spoke++
	}
}

// wait returns how long a connection from addr at now waits for an HTTP
// request before it gets WELCOME.
func (c *callers) wait(addr netip.Prefix, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.m[addr]
	switch {
	case k == nil:
		return browserWait
	case !k.asked.IsZero() && now.Sub(k.asked) < webMemory:
		return webWait
	case k.spokeAt(now) >= programScore:
		return httpWait
	}
	return browserWait
}

// spokeAt returns k.spoke as of now.
func (k *caller) spokeAt(now time.Time) float64 {
	return k.spoke * math.Exp2(-now.Sub(k.seen).Minutes())
}

// forgetOldest deletes the entry of m seen least recently, by seen.
func forgetOldest[K comparable, V any](m map[K]V, seen func(V) time.Time) {
	var oldest K
	var at time.Time
	for k, v := range m {
		if t := seen(v); at.IsZero() || t.Before(at) {
			oldest, at = k, t
		}
	}
	delete(m, oldest)
}

// firstLine reads the connection's first line, waiting for it as long as
// callers says; errDeadline if none came by then. The wait is asked again
// when it ends, as another connection from the address (a browser's
// first) may have asked in HTTP meanwhile.
func (c *conn) firstLine() ([]byte, error) {
	start := time.Now()
	wait := time.Duration(0)
	for {
		next := httpWait
		if !c.s.NoWeb {
			next = c.s.callers.wait(c.addrKey(), c.s.clock.Now())
		}
		if next <= wait {
			return nil, errDeadline
		}
		wait = next
		c.in.setDeadline(start.Add(wait))
		line, err := c.in.readLine()
		if !errors.Is(err, errDeadline) {
			return line, err
		}
	}
}
