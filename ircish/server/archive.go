package server

// The room's archive: a copy of its messages kept apart, on disk or in an
// index, and HISTORY SEARCH, which it answers.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"ircish/ircish"
	"ircish/ircish/room"
)

// UseArchive has a keep a copy of the room's messages, and answer HISTORY
// SEARCH. kept, what a kept before (see package store), becomes the
// room's messages, as many as it keeps (Keep): HISTORY gives them again,
// and the seqs of new messages go on after them, and after kept.Gone; a
// zero kept changes nothing (a cluster's index, which the engine fills
// as it reads the room). Call it before UseEngine and Serve, and close a
// after Shutdown.
func (s *Server) UseArchive(a room.Archive, kept room.Snapshot) error {
	s.init()
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if kept.Gone == 0 && len(kept.Messages) == 0 {
		h.archive = a
		return nil
	}
	st, err := h.state.Restore(kept)
	if err != nil {
		return err
	}
	h.state, h.archive = st, a
	// Seqs never go below the time of day in microseconds (see newHub):
	// a seq kept after a SIGKILL is not given again, as the clock has
	// moved past it; and if the clock went back, the seqs kept win.
	h.seq = max(h.seq, kept.Gone)
	if g := st.Messages(); g.Len() > 0 {
		h.seq = max(h.seq, g.At(g.Len()-1).Seq)
	}
	return nil
}

// searchTimeout bounds how long HISTORY SEARCH waits for the archive.
const searchTimeout = 5 * time.Second

// A searchError is an archive's failure to answer a search.
type searchError struct{ err error }

func (e searchError) Error() string { return "search failed: " + e.err.Error() }

var (
	errNoIndex      = ircish.NewError(ircish.CodeBadParam, "this server keeps no messages to search (-store none, or -history 0)")
	errSearchFailed = ircish.NewError(ircish.CodeTimeout, "the search did not finish: try again")
	errTooManyWords = ircish.NewError(ircish.CodeBadParam, fmt.Sprintf("a search holds at most %d words", ircish.SearchMaxWords))
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
