package server

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"

	"ircish/ircish"
	"ircish/ircish/room"
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

// searchTimeout bounds how long HISTORY SEARCH waits for the archive.
const searchTimeout = 5 * time.Second

// A searchError is an archive's failure to answer a search.
type searchError struct{ err error }

func (e searchError) Error() string { return "search failed: " + e.err.Error() }

var (
	errNoIndex      = ircish.NewError(ircish.CodeBadParam, "this server keeps no messages to search (-store none, or -history 0)")
	errSearchFailed = ircish.NewError(ircish.CodeTimeout, "the search did not finish: try again")
)

// search sends m, as one reply, the newest messages kept that hold every
// one of words, oldest first (at most ircish.HistorySearchMax), and
// returns how many. m's own messages are applied first, so it finds what
// it just said. It waits for the archive without the hub's lock.
func (h *hub) search(m *member, words []string) (int, error) {
	h.lockCaughtUp(m)
	a := h.archive
	h.mu.Unlock()
	if a == nil {
		return 0, errNoIndex
	}
	ctx, cancel := context.WithTimeout(context.Background(), searchTimeout)
	defer cancel()
	found, err := a.Search(ctx, words, ircish.HistorySearchMax)
	if err != nil {
		return 0, searchError{err}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// The archive may keep a few more than the room: SEARCH finds only
	// what HISTORY could give. Those are the oldest, so what is left is
	// still the newest that match.
	oldest := h.state.Messages().Oldest()
	i, _ := slices.BinarySearchFunc(found, oldest, func(e room.Entry, seq int64) int { return cmp.Compare(e.Seq, seq) })
	var b []byte
	for _, e := range found[i:] {
		b = ircish.AppendHistory(b, e.Seq, e.At, e.From, e.Text)
	}
	h.handOut(m)
	m.out.pushReply(ircish.AppendLine(b, ircish.History, ircish.HistoryEnd, strconv.Itoa(len(found)-i)))
	return len(found) - i, nil
}
