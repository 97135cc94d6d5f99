package cluster

import (
	"log/slog"
	"time"
)

// watch fences this server while it is cut off from the stream, and has
// the room read afresh when its reader stalls, until the cluster is
// closed. It never waits for NATS.
func (e *Engine) watch() {
	defer e.tasks.Done()
	tick := time.NewTicker(aliveEvery)
	defer tick.Stop()
	var reader stallWatch
	for {
		e.checkStall(&reader)
		e.checkFence()
		select {
		case <-tick.C:
		case <-e.stop:
			return
		}
	}
}

// A stallWatch tells whether this server's reader of the stream has
// stalled: it has applied nothing for stallAfter while the stream holds
// more. nats.go makes a consumer the stream lost again by itself, trying
// after 1, 2, 4, 8 and then every 10 s; one it can never make again (the
// stream takes no more consumers, say) would leave this server serving a
// room that no longer changes.
type stallWatch struct {
	applied int64
	behind  time.Time // since when applied has been behind, unchanged; zero if it is not
}

// stallAfter is how long a reader may apply nothing while the stream holds
// more: longer than nats.go takes to make a consumer again after NATS
// moves a stream.
const stallAfter = 30 * time.Second

// stalled notes that the reader has applied the stream up to applied and
// that the stream holds at least up to known, at now, and reports whether
// the reader has stalled.
func (w *stallWatch) stalled(applied, known int64, now time.Time) bool {
	if applied != w.applied || known <= applied {
		w.applied, w.behind = applied, time.Time{}
		return false
	}
	if w.behind.IsZero() {
		w.behind = now
	}
	return now.Sub(w.behind) >= stallAfter
}

// checkStall has the room read afresh, with a new reader, once the reader
// has stalled (see stallWatch): the stream holds at least this server's
// last lease.
func (e *Engine) checkStall(w *stallWatch) {
	applied := e.lastApplied.Load()
	if e.rereading.Load() || !w.stalled(applied, e.leaseSeq.Load(), time.Now()) {
		return
	}
	*w = stallWatch{}
	e.readMu.Lock()
	rd := e.reading
	live := rd != nil && rd.whole && e.lastApplied.Load() == applied
	if live {
		e.readAfresh()
	}
	e.readMu.Unlock()
	if live { // else read afresh already, or applying again
		e.log.Warn("reading the stream stalled: reading the room afresh",
			slog.Int64("applied", applied), slog.Int64("stored", e.leaseSeq.Load()), slog.Duration("for", stallAfter))
	}
}

// rereader reads the room afresh from the stream whenever this server
// finds that messages it had yet to apply were deleted (see receive), that
// its reader has stalled (see checkStall), or that the stream is another
// (see lease), until the cluster is closed. Its state may lack a leave, or
// have missed lines: so that no client is served a room that differs from
// the others', the server is fenced until it has read the room again.
func (e *Engine) rereader() {
	defer e.tasks.Done()
	for {
		select {
		case <-e.missed:
		case <-e.stop:
			return
		}
		e.rereading.Store(true)
		e.checkFence()
		e.room.StopWaiting()
		e.cons.Stop()
		for logged := ""; ; {
			err := e.readRoom(e.ctx)
			if err == nil {
				break
			}
			if err.Error() != logged { // once each, as it may fail for long
				logged = err.Error()
				e.log.Warn("reading the room afresh failed; trying again", slog.Any("err", err))
			}
			select {
			case <-time.After(time.Second): // the stream is away: try again
			case <-e.stop:
				return
			}
		}
		e.log.Info("room read afresh", slog.Int64("applied", e.lastApplied.Load()))
		// The fence ends once the clients here, told to go, have seen it,
		// or after goneWait.
		for start := time.Now(); e.room.Members() > 0 && time.Since(start) < goneWait; {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-e.stop:
				return
			}
		}
		e.rereading.Store(false)
		e.checkFence()
	}
}

// goneWait bounds the wait of a server that read the room afresh for its
// clients to go: as long as a client may wait for a record of its own.
const goneWait = 10 * time.Second

// checkFence fences this server while it is cut off from the stream, and
// ends the fence once it is not, has applied all the stream held as it
// took its last lease, and the stream has what its clients said before
// they were told to go (their leaving included): a client it then takes
// joins a room its former clients have left. It is cut off if its lease
// has waited fenceAfter for the stream (unless another server's waits too,
// and then maxPause), if its records are
// stuck (see publisher.stuck), or while it reads the room afresh. Cut off from the stream, a server must not go on
// as a room of its own: the others will have its users leave once the
// stream has taken their leases for lostAfter without its own, which is
// longer. It never waits for NATS.
func (e *Engine) checkFence() {
	e.fenceMu.Lock()
	defer e.fenceMu.Unlock()
	waited := time.Since(time.Unix(0, e.leased.Load()))
	stuck := e.pub.stuck()
	cutOff := stuck || e.rereading.Load() || waited > maxPause || waited > fenceAfter && !e.othersWait()
	if cutOff == e.fenced.Load() || !cutOff && (e.lastApplied.Load() < e.leaseSeq.Load() || e.pub.left() > 0) {
		return
	}
	e.fenced.Store(cutOff)
	if cutOff {
		e.log.Warn("cut off from the cluster: clients told to go, and refused",
			slog.Duration("lease_waited", waited.Round(time.Millisecond)), slog.Bool("stuck", stuck),
			slog.Bool("rereading", e.rereading.Load()))
		e.pub.wake()
		e.room.Fence(true)
		return
	}
	e.log.Info("back in the cluster: serving again")
	e.room.Fence(false)
}
