package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// compactor compacts the stream every compactEvery while this server is
// the one to (see compacts), until the cluster is closed. It is apart from
// the leaser, as a stream without a quorum may keep it waiting for
// compactEvery, and leases must not wait.
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
		if !e.compacts() {
			continue
		}
		if snap, keep := e.snapshotNow(); snap != nil {
			e.compact(snap, keep)
		}
	}
}

// compacts reports whether this server is the one to compact the stream:
// of the servers in the cluster that read it (see nodes), the one of the
// least id.
func (e *Engine) compacts() bool {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	if e.reading == nil {
		return false
	}
	for id, n := range e.reading.nodes.By {
		if id < e.id && !n.Lost && n.Reached > 0 {
			return false
		}
	}
	return true
}

// snapshotNow returns the room's fold as this server has applied it, and
// the stream seq from which on the stream is to keep its messages; nil if
// this server, fenced or reading the room afresh, has no fold to give.
// The stream keeps what a server in the cluster has yet to apply: a
// server that lags must still find every message it needs. One that reads
// the room afresh does not count: it starts from the snapshot.
func (e *Engine) snapshotNow() (*snapshot, int64) {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	rd := e.reading
	if rd == nil || !rd.whole || e.fenced.Load() {
		return nil, 0
	}
	snap := &snapshot{Seq: e.lastApplied.Load(), Nodes: rd.nodes.clone()}
	keep := snap.Seq + 1
	for id, n := range rd.nodes.By {
		if id != e.id && !n.Lost && n.Reached > 0 {
			keep = min(keep, n.Reached+1)
		}
	}
	e.room.Read(func(s *room.State) { snap.Room = s.Snapshot() })
	return snap, keep
}

// compact stores snap, and then deletes the messages before the stream seq
// keep, unless the stream holds a snapshot as new already: the messages
// that remain, read from the snapshot on, give the room as it is, and its
// last -history messages (see protocol.txt, 6.1).
func (e *Engine) compact(snap *snapshot, keep int64) {
	ctx, cancel := context.WithTimeout(e.ctx, compactEvery)
	defer cancel()
	last, lastSeq, err := e.lastIndex(ctx) // its index says enough: no need of its parts
	if err != nil {
		e.log.Warn("compaction failed", slog.Any("err", err))
		return
	}
	if last != nil && last.Seq >= snap.Seq {
		return
	}
	err = e.storeSnapshot(ctx, snap, e.maxMessage(), lastSeq)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return // another server stored one meanwhile
	}
	if err != nil {
		e.log.Warn("compaction failed", slog.Any("err", err))
		return
	}
	if err := e.stream.Purge(ctx, jetstream.WithPurgeSequence(uint64(keep))); err != nil {
		e.log.Warn("compaction failed", slog.Any("err", err))
	}
}
