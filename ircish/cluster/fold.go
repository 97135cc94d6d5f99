package cluster

import (
	"slices"
	"time"
)

// The servers of a cluster, as the stream tells of them, are part of the
// room's fold: whether a server is lost, and so whether its users are in
// the room, is decided by the messages in the stream alone, in their
// order, so that every server decides alike, and a reader that starts
// from a snapshot decides as one that read every message (see
// protocol.txt, 6.1).
//
// A server is heard from each time the stream stores a message of its
// own: its records, or its lease, which it sends every aliveEvery. A
// server is lost once the stream has gone on taking messages for
// lostAfter without one of its own: its users leave the room. Time is
// the stream's (a message's timestamp), and it counts only while the
// stream takes messages: a gap of more than liveGap between two messages
// means the stream took none (its leader moved, say), and nobody's
// silence counts over it.
type node struct {
	Name  string        `json:"name"`
	Count uint64        `json:"count"` // the number of its last message applied (see msgOrigin)
	Quiet time.Duration `json:"quiet"` // stream time since it was last heard from
	// Reached is the stream seq it said, in its last lease, it had
	// applied; 0 if it reads the room afresh.
	Reached int64 `json:"reached"`
	Lost    bool  `json:"lost"` // its users were made to leave
}

// A nodes is the fold's table of servers, by node id, and the time of the
// last message the stream stored.
type nodes struct {
	By   map[string]*node `json:"by"`
	Last time.Time        `json:"last"`
}

// Bounds of the fold's time. liveGap is twice aliveEvery: while any
// server is in the cluster, the stream takes a message at least every
// aliveEvery. A lost server is forgotten after forgetAfter more: once
// no copy of its messages can be stored any more (see duplicateWindow).
const (
	liveGap     = 2 * aliveEvery
	forgetAfter = duplicateWindow
)

func newNodes() *nodes { return &nodes{By: make(map[string]*node)} }

// tick advances the fold's time to that of a message stored at at, and
// returns the servers lost by then, in the order of their ids. The caller
// has their users leave, in that order, before it applies the message.
func (ns *nodes) tick(at time.Time) (lost []string) {
	gap := at.Sub(ns.Last)
	if ns.Last.IsZero() || gap < 0 || gap > liveGap {
		gap = 0
	}
	ns.Last = at
	if gap == 0 {
		return nil
	}
	for id, n := range ns.By {
		n.Quiet += gap
		switch {
		case !n.Lost && n.Quiet > lostAfter:
			n.Lost = true
			lost = append(lost, id)
		case n.Lost && n.Quiet > lostAfter+forgetAfter:
			delete(ns.By, id)
		}
	}
	slices.Sort(lost) // the same order on every server
	return lost
}

// heard notes a message of the server id, of number count (0: a lease,
// which has none), and reports whether it is to be applied: a message
// whose number is not above that of the server's last one applied is a
// copy, stored late, and ignored.
func (ns *nodes) heard(id string, count uint64) bool {
	n := ns.By[id]
	if n == nil {
		n = &node{}
		ns.By[id] = n
	}
	if count != 0 && count <= n.Count {
		return false
	}
	n.Count = max(n.Count, count)
	n.Quiet, n.Lost = 0, false
	return true
}

// leased notes the lease of the server id: its name, and the stream seq it
// had applied.
func (ns *nodes) leased(id, name string, reached int64) {
	if n := ns.By[id]; n != nil {
		n.Name, n.Reached = name, reached
	}
}

// clone returns a copy of ns, for a snapshot.
func (ns *nodes) clone() *nodes {
	c := &nodes{By: make(map[string]*node, len(ns.By)), Last: ns.Last}
	for id, n := range ns.By {
		copied := *n
		c.By[id] = &copied
	}
	return c
}
