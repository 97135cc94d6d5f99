package server

import (
	"strconv"

	"ircish/ircish"
)

// HISTORY, as the hub answers it: from the messages the room keeps (see
// room.State's Messages), in the member's place among the room's lines.

// seqsFor makes m get MSG lines with their seqs from now on, after what
// it has yet to be handed, and answers it HISTORY LIVE.
func (h *hub) seqsFor(m *member) {
	h.lockCaughtUp(m)
	defer h.mu.Unlock()
	h.handOut(m)
	if !m.seqs {
		m.seqs, m.handed = true, len(h.pendingSeq)
		h.seqMembers++
	}
	m.out.pushReply(ircish.Line(ircish.History, ircish.HistoryLive))
}

// replay sends m, in its place among the room's lines, the kept messages
// asked for: the last count, or, if after is not negative, the first
// count after seq after, after a HISTORY GAP line if some of those are no
// longer kept. It returns how many messages it sent.
func (h *hub) replay(m *member, after int64, count int) int {
	h.lockCaughtUp(m)
	defer h.mu.Unlock()
	kept := h.state.Messages()
	var b []byte
	var from, to int
	if after < 0 {
		from, to = kept.Last(count)
	} else {
		var gap bool
		from, to, gap = kept.After(after, count)
		if gap {
			b = ircish.AppendLine(b, ircish.History, ircish.HistoryGap, strconv.FormatInt(kept.Oldest(), 10))
		}
	}
	for i := from; i < to; i++ {
		e := kept.At(i)
		b = ircish.AppendHistory(b, e.Seq, e.At, e.From, e.Text)
	}
	h.handOut(m)
	m.out.pushReply(ircish.AppendLine(b, ircish.History, ircish.HistoryEnd, strconv.Itoa(to-from)))
	return to - from
}
