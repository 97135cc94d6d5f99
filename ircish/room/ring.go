package room

import (
	"sort"
	"time"
)

// An Entry is a room message as the room keeps it.
type Entry struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	From string    `json:"from"`
	Text string    `json:"text"`
}

// A Ring holds the last room messages, oldest first. Their seqs, which
// the engine gives, grow but need not be consecutive. Its memory grows
// with the messages said, up to its size times the longest line; adding to
// a full ring allocates nothing.
type Ring struct {
	entries []Entry // a circle: entries[start] is the oldest once full
	size    int     // messages kept at most
	start   int
	gone    int64 // messages up to this seq are no longer kept
}

// add keeps a message, dropping the oldest if the ring is full, and
// returns it as kept.
func (g *Ring) add(seq int64, from, text string, at time.Time) Entry {
	e := Entry{Seq: seq, At: at, From: from, Text: text}
	switch {
	case g.size == 0:
		g.gone = seq
	case len(g.entries) < g.size:
		g.entries = append(g.entries, e)
	default:
		g.gone = g.entries[g.start].Seq
		g.entries[g.start] = e
		g.start = (g.start + 1) % len(g.entries)
	}
	return e
}

// Len returns how many messages are kept.
func (g *Ring) Len() int { return len(g.entries) }

// At returns the i-th oldest message kept.
func (g *Ring) At(i int) Entry { return g.entries[(g.start+i)%len(g.entries)] }

// Last returns the range [from, to) of the last n messages kept.
func (g *Ring) Last(n int) (from, to int) {
	return max(0, len(g.entries)-n), len(g.entries)
}

// After returns the range [from, to) of the first n messages kept after
// seq, and whether messages after seq are gone: those after seq up to
// the last one dropped.
func (g *Ring) After(seq int64, n int) (from, to int, gap bool) {
	from = sort.Search(len(g.entries), func(i int) bool { return g.At(i).Seq > seq })
	return from, min(len(g.entries), from+n), seq < g.gone
}

// Oldest returns the seq of the oldest message kept, or of the next one
// if none is.
func (g *Ring) Oldest() int64 {
	if len(g.entries) == 0 {
		return g.gone + 1
	}
	return g.At(0).Seq
}
