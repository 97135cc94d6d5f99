package ircish

import (
	"sort"
	"strconv"
	"time"
)

// DefaultHistory is how many room messages a Server keeps for HISTORY.
const DefaultHistory = 1000

// DefaultHistoryCount is how many messages HISTORY sends when the client
// does not say.
const DefaultHistoryCount = 50

// Words of HISTORY lines.
const (
	HistoryAfter = "AFTER" // HISTORY AFTER <seq> [<count>]
	HistoryLive  = "LIVE"  // HISTORY LIVE: MSG lines come as HISTORY lines
	HistoryGap   = "GAP"   // HISTORY GAP <seq>: messages before seq are gone
	HistoryEnd   = "END"   // HISTORY END <n>: the end of a reply
)

// An entry is a room message as history keeps it.
type entry struct {
	seq  int64
	at   time.Time
	from string
	text string
}

// A ring holds the last room messages, oldest first. Their seqs, which
// the engine gives, grow but need not be consecutive. Its memory grows
// with the messages said, up to its size times the longest line; adding to
// a full ring allocates nothing.
type ring struct {
	entries []entry // a circle: entries[start] is the oldest once full
	size    int     // messages kept at most
	start   int
	gone    int64 // messages up to this seq are no longer kept
}

// newRing returns a ring that keeps n messages, and knows that those up to
// seq gone were said before it and are not kept.
func newRing(n int, gone int64) ring {
	return ring{size: n, gone: gone}
}

// add keeps a message, dropping the oldest if the ring is full, and
// returns it as kept.
func (g *ring) add(seq int64, from, text string, at time.Time) entry {
	e := entry{seq: seq, at: at, from: from, text: text}
	switch {
	case g.size == 0:
		g.gone = seq
	case len(g.entries) < g.size:
		g.entries = append(g.entries, e)
	default:
		g.gone = g.entries[g.start].seq
		g.entries[g.start] = e
		g.start = (g.start + 1) % len(g.entries)
	}
	return e
}

// at returns the i-th oldest message kept.
func (g *ring) at(i int) entry { return g.entries[(g.start+i)%len(g.entries)] }

// last returns the range [from, to) of the last n messages kept.
func (g *ring) last(n int) (from, to int) {
	return max(0, len(g.entries)-n), len(g.entries)
}

// after returns the range [from, to) of the first n messages kept after
// seq, and whether messages after seq are gone: those after seq up to
// g.gone.
func (g *ring) after(seq int64, n int) (from, to int, gap bool) {
	from = sort.Search(len(g.entries), func(i int) bool { return g.at(i).seq > seq })
	return from, min(len(g.entries), from+n), seq < g.gone
}

// oldest returns the seq of the oldest message kept, or of the next one
// if none is.
func (g *ring) oldest() int64 {
	if len(g.entries) == 0 {
		return g.gone + 1
	}
	return g.at(0).seq
}

// appendHistoryLine appends e's HISTORY line to b.
func appendHistoryLine(b []byte, e entry) []byte {
	b = append(b, History+" "...)
	b = strconv.AppendInt(b, e.seq, 10)
	b = append(b, ' ')
	b = e.at.UTC().AppendFormat(b, HistoryTime)
	b = append(b, ' ')
	b = append(b, e.from...)
	b = append(b, ' ')
	b = append(b, e.text...)
	return append(b, '\r', '\n')
}

// HistoryTime is the layout of a HISTORY line's time: RFC 3339, UTC, with
// milliseconds.
const HistoryTime = "2006-01-02T15:04:05.000Z"
