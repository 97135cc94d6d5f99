package server

// Passwords: the guessing limit per address, and the slots that bound how
// many argon2id hashes run at once.

import (
	"net/netip"
	"runtime"
	"sync"
	"time"

	"ircish/ircish"
	"ircish/ircish/password"
	"ircish/ircish/room"
)

// The guessing limit: guessLimit wrong passwords from one address within
// guessWindow, and every attempt from there is refused for guessLockout,
// the right password included.
const (
	guessLimit   = 5
	guessWindow  = time.Minute
	guessLockout = time.Minute
	// maxGuessers bounds the addresses tracked; the oldest go first.
	maxGuessers = 10000
)

var errTooManyAttempts = ircish.NewError(ircish.CodeTooMany, "too many wrong passwords from your address: try again in a minute")

// A guard checks passwords for the connections: at most slots hashes at
// once, each attempt counted against its address. Safe to call from any
// goroutine; it holds its mutex only for bookkeeping, never while hashing.
type guard struct {
	slots chan struct{}
	now   func() time.Time

	mu       sync.Mutex
	guessers map[netip.Prefix]*guesser
}

// A guesser is what the guard knows of one address: its recent wrong
// passwords, and until when it is locked out.
type guesser struct {
	wrong  []time.Time // within guessWindow, oldest first
	locked time.Time
	seen   time.Time
}

// newGuard returns a guard that hashes on half the CPUs at most (one at
// least), so that the room always has a core, and a flood of attempts
// holds a bounded amount of memory (password.Memory per slot).
func newGuard(now func() time.Time) *guard {
	return &guard{
		slots:    make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		now:      now,
		guessers: make(map[netip.Prefix]*guesser),
	}
}

// check reports whether password is the one hash was made of, for a
// client at addr: errTooManyAttempts while addr is locked out,
// room.ErrBadPassword for a wrong one, which counts against addr. It
// waits for a free slot to hash.
func (g *guard) check(addr netip.Prefix, hash, pw string) *ircish.Error {
	if g.locked(addr) {
		return errTooManyAttempts
	}
	g.slots <- struct{}{}
	ok, err := password.Check(hash, pw)
	<-g.slots
	if err != nil || !ok {
		g.wrong(addr)
		return room.ErrBadPassword
	}
	return nil
}

// hash returns the hash of pw, once a slot is free.
func (g *guard) hash(pw string) string {
	g.slots <- struct{}{}
	defer func() { <-g.slots }()
	return password.Hash(pw)
}

func (g *guard) locked(addr netip.Prefix) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	gs := g.guessers[addr]
	return gs != nil && g.now().Before(gs.locked)
}

// wrong counts a wrong password from addr, and locks addr out at the
// limit.
func (g *guard) wrong(addr netip.Prefix) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	gs := g.guessers[addr]
	if gs == nil {
		if len(g.guessers) >= maxGuessers {
			g.forgetOldest()
		}
		gs = &guesser{}
		g.guessers[addr] = gs
	}
	gs.seen = now
	i := 0
	for i < len(gs.wrong) && now.Sub(gs.wrong[i]) >= guessWindow {
		i++
	}
	gs.wrong = append(gs.wrong[i:], now)
	if len(gs.wrong) >= guessLimit {
		gs.locked, gs.wrong = now.Add(guessLockout), nil
	}
}

// forgetOldest forgets the address seen least recently. The caller holds
// g.mu.
func (g *guard) forgetOldest() {
	var oldest netip.Prefix
	var at time.Time
	for a, gs := range g.guessers {
		if at.IsZero() || gs.seen.Before(at) {
			oldest, at = a, gs.seen
		}
	}
	delete(g.guessers, oldest)
}
