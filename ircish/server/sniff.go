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
	// maxCallers bounds the addresses remembered.
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

// touch returns addr's entry as of now, made if new. The caller holds
// c.mu.
func (c *callers) touch(addr netip.Prefix, now time.Time) *caller {
	if c.m == nil {
		c.m = make(map[netip.Prefix]*caller)
	}
	e := c.m[addr]
	if e == nil {
		if len(c.m) >= maxCallers {
			for a := range c.m { // one at random: a scan for the oldest would cost every new address a lot
				delete(c.m, a)
				break
			}
		}
		e = &caller{}
		c.m[addr] = e
	}
	e.spoke = e.spokeAt(now)
	e.seen = now
	return e
}

// saw notes the first line of a connection from addr at now: an HTTP
// request, or a line of the line protocol.
func (c *callers) saw(addr netip.Prefix, now time.Time, http bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.touch(addr, now)
	if http {
		e.asked = now
	} else {
		e.spoke++
	}
}

// wait returns how long a connection from addr at now waits for an HTTP
// request before it gets WELCOME.
func (c *callers) wait(addr netip.Prefix, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[addr]
	switch {
	case e == nil:
		return browserWait
	case !e.asked.IsZero() && now.Sub(e.asked) < webMemory:
		return webWait
	case e.spokeAt(now) >= programScore:
		return httpWait
	}
	return browserWait
}

// spokeAt returns e.spoke as of now.
func (e *caller) spokeAt(now time.Time) float64 {
	return e.spoke * math.Exp2(-now.Sub(e.seen).Minutes())
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
