package server

import (
	"sync"
	"time"

	"ircish/ircish"
)

// How the room's lines reach its members: added once to pending, which
// all members share, and handed out to each, as a slice of it, by the
// actor or by a timer a moment later (see hub).

// Lines to others wait a moment for company before they are handed out:
// when many clients talk, or join, at once, every member gets their lines
// a few at a time rather than one write each.
const msgDelay = 500 * time.Microsecond

// presenceDelay is how long JOINED, RENAMED and LEFT lines wait in a room
// of n members: 50 ms, and 50 ms more per 5,000 members up to 1 s, so that
// a join storm costs about 100,000 writes a second at most (n writes per
// delay) in rooms of up to 95,000.
func presenceDelay(n int) time.Duration {
	return min(time.Duration(1+n/5000)*50*time.Millisecond, time.Second)
}

// broadcast adds a line to pending for every member: actor, if not nil,
// is handed its share at once, the others theirs within delay (plus the
// time it takes to write to them all). The caller holds h.mu.
func (h *hub) broadcast(actor *member, delay time.Duration, verb string, params ...string) {
	if h.closed { // shutting down: everyone here is told BYE instead
		return
	}
	h.schedule(delay)
	h.pending = ircish.AppendLine(h.pending, verb, params...)
	if h.seqMembers > 0 {
		h.pendingSeq = ircish.AppendLine(h.pendingSeq, verb, params...)
	}
	h.delivered(actor)
}

// schedule makes sure pending is handed out within delay, before a line is
// added to it. The caller holds h.mu.
func (h *hub) schedule(delay time.Duration) {
	if due := time.Now().Add(delay); len(h.pending) == 0 || due.Before(h.due) {
		h.due = due
		if h.timer == nil {
			h.timer = time.AfterFunc(delay, h.handOutAll)
		} else {
			h.timer.Reset(delay)
		}
	}
}

// delivered counts a line added to pending for every member, and hands
// actor, if not nil, its share at once. The caller holds h.mu.
func (h *hub) delivered(actor *member) {
	h.deliveries += int64(len(h.members))
	if actor != nil {
		h.handOut(actor)
	}
}

// pendingOf returns the pending lines as m gets them. The caller holds
// h.mu.
func (h *hub) pendingOf(m *member) []byte {
	if m.seqs {
		return h.pendingSeq
	}
	return h.pending
}

// handOut queues for member m the part of pending it has yet to be
// handed. The caller holds h.mu.
func (h *hub) handOut(m *member) {
	p := h.pendingOf(m)
	if n := len(p); m.handed < n {
		m.out.push(p[m.handed:n:n])
		m.handed = n
	}
}

// handOutAll hands every member its share of pending, starts pending
// afresh, and then writes the shares.
func (h *hub) handOutAll() {
	h.mu.Lock()
	if h.closed { // close handed everything out
		h.mu.Unlock()
		return
	}
	h.flushing.Add(1)
	defer h.flushing.Done()
	outs := h.spare
	h.spare = nil
	for _, m := range h.members {
		p := h.pendingOf(m)
		if n := len(p); m.handed < n {
			m.out.hand(p[m.handed:n:n])
			outs = append(outs, m.out)
		}
		m.handed = 0
	}
	h.pending, h.pendingSeq = nil, nil
	h.mu.Unlock()
	flushAll(outs, h.meter)
	clear(outs)
	h.mu.Lock()
	h.spare = outs[:0]
	h.mu.Unlock()
}

// flushAll flushes outs, flushChunk of them per goroutine: one goroutine
// writing to many sockets in turn costs less than a goroutine each, and
// a few of them use every core in a big room. It counts what it wrote in
// m, if not nil.
func flushAll(outs []*outbox, m *meter) {
	var wg sync.WaitGroup
	for len(outs) > flushChunk {
		chunk := outs[:flushChunk]
		outs = outs[flushChunk:]
		wg.Go(func() { flushEach(chunk, m) })
	}
	flushEach(outs, m)
	wg.Wait()
}

// flushEach flushes outs in turn, and counts what it wrote in m, once.
func flushEach(outs []*outbox, m *meter) {
	var t tally
	for _, o := range outs {
		t.wrote(o.flush())
	}
	m.add(&t)
}

const flushChunk = 256
