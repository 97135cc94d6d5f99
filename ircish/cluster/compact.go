package cluster

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// compactor compacts the stream every compactEvery while this server is
// the one to (see compacts), until the cluster is closed. It is apart from
// watch, as a stream without a quorum may keep it waiting for compactEvery,
// and heartbeats must not wait.
func (e *Engine) compactor() {
	defer e.tasks.Done()
	tick := time.NewTicker(compactEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-e.stop:
			return
		}
		e.tidy()
	}
}

// compacts reports whether this server is the one to compact the stream:
// of the servers heard from lately, the one of the least id.
func (e *Engine) compacts() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for node, seen := range e.lastSeen {
		if node < e.id && time.Since(seen) < lostAfter {
			return false
		}
	}
	return true
}

// tidy compacts the stream if this server is the one to. Else it forgets
// the departures that one deletes the subjects of, as it uses the same
// bound (keptFrom); it keeps those it would still have to delete, should
// it take over.
func (e *Engine) tidy() {
	switch {
	case e.fenced.Load(): // it may be the one to compact, once back
	case e.compacts():
		e.compact()
	default:
		e.takeDeparted(e.keptFrom())
	}
}

// compact deletes from the stream the messages said before the oldest
// one still kept (see room.Ring), and the subjects of members who left before
// it: what remains still gives every server that reads it the room as it
// is, and its last -history messages. It deletes nothing that a server
// heard from lately has yet to apply: a server that lags, its reader
// stalled or its NATS blinking, must still find every record it needs.
func (e *Engine) compact() {
	ctx, cancel := context.WithTimeout(e.ctx, compactEvery)
	defer cancel()
	keptFrom := e.keptFrom()
	err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(sayingsSubject), jetstream.WithPurgeSequence(uint64(keptFrom)))
	if err != nil {
		e.log.Warn("compaction failed", slog.Any("err", err))
		return
	}
	gone := e.takeDeparted(keptFrom)
	for i, d := range gone {
		if err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(memberSubject(d.id))); err != nil {
			e.log.Warn("compaction failed", slog.Any("err", err))
			e.mu.Lock()
			e.departed = append(gone[i:], e.departed...) // for the next time
			e.mu.Unlock()
			return
		}
	}
}

// keptFrom returns the stream seq from which on compaction keeps the
// stream: that of the oldest message in history (or the next to apply if
// it has none), unless a server heard from lately has yet to apply it.
func (e *Engine) keptFrom() int64 {
	from := e.lastApplied.Load() + 1
	e.room.Read(func(s *room.State) {
		if kept := s.Messages(); kept.Len() > 0 {
			from = streamSeqOf(kept.At(0).Seq)
		}
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	for node, seen := range e.lastSeen {
		if node != e.id && time.Since(seen) < lostAfter {
			from = min(from, e.reached[node]+1)
		}
	}
	return from
}

// takeDeparted takes from e.departed the departures before the stream
// seq before, and returns them.
func (e *Engine) takeDeparted(before int64) []departure {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := 0
	for i < len(e.departed) && streamSeqOf(e.departed[i].seq) < before {
		i++
	}
	gone := slices.Clone(e.departed[:i])
	e.departed = slices.Delete(e.departed, 0, i)
	return gone
}
