package ircish

import (
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
	historyAfter = "AFTER" // HISTORY AFTER <seq> [<count>]
	historyLive  = "LIVE"  // HISTORY LIVE: MSG lines come as HISTORY lines
	historyGap   = "GAP"   // HISTORY GAP <seq>: messages before seq are gone
	historyEnd   = "END"   // HISTORY END <n>: the end of a reply
)

// An entry is a room message as history keeps it.
type entry struct {
	seq  int64
	at   time.Time
	from string
	text string
}

// A ring holds the last room messages, oldest first, and numbers them.
// Its memory grows with the messages said, up to its size times the
// longest line; adding to a full ring allocates nothing.
type ring struct {
	entries []entry // a circle: entries[start] is the oldest once full
	size    int     // messages kept at most
	start   int
	next    int64 // the seq of the next message
}

// newRing returns a ring that keeps n messages, whose first seq is first.
func newRing(n int, first int64) ring {
	return ring{size: n, next: first}
}

// add numbers a message said now and keeps it, dropping the oldest if the
// ring is full. It returns the message as kept.
func (g *ring) add(from, text string, now time.Time) entry {
	e := entry{seq: g.next, at: now, from: from, text: text}
	g.next++
	switch {
	case g.size == 0:
	case len(g.entries) < g.size:
		g.entries = append(g.entries, e)
	default:
		g.entries[g.start] = e
		g.start = (g.start + 1) % len(g.entries)
	}
	return e
}

// at returns the i-th oldest message kept.
func (g *ring) at(i int) entry { return g.entries[(g.start+i)%len(g.entries)] }

// oldest returns the seq of the oldest message kept, or of the next one if
// none is.
func (g *ring) oldest() int64 {
	if len(g.entries) == 0 {
		return g.next
	}
	return g.at(0).seq
}

// last returns the range [from, to) of the last n messages kept.
func (g *ring) last(n int) (from, to int) {
	return max(0, len(g.entries)-n), len(g.entries)
}

// after returns the range [from, to) of the first n messages kept after
// seq.
func (g *ring) after(seq int64, n int) (from, to int) {
	from = len(g.entries)
	if skip := seq - (g.oldest() - 1); skip < int64(len(g.entries)) {
		from = int(max(0, skip))
	}
	return from, min(len(g.entries), from+n)
}

// appendHistoryLine appends e's HISTORY line to b.
func appendHistoryLine(b []byte, e entry) []byte {
	b = append(b, History+" "...)
	b = strconv.AppendInt(b, e.seq, 10)
	b = append(b, ' ')
	b = e.at.UTC().AppendFormat(b, historyTime)
	b = append(b, ' ')
	b = append(b, e.from...)
	b = append(b, ' ')
	b = append(b, e.text...)
	return append(b, '\r', '\n')
}

// historyTime is the layout of a HISTORY line's time: RFC 3339, UTC, with
// milliseconds.
const historyTime = "2006-01-02T15:04:05.000Z"
