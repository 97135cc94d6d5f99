package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaser sends this server's lease to the stream every aliveEvery, or
// every retryLease while the stream does not take it, and its heartbeat,
// until the cluster is closed. Every checkEvery leases, it checks that the
// stream is the one it reads. While its records are stuck (see
// publisher.stuck), it sends no lease: the stream takes nothing else from
// it, and the others are to have its users leave.
func (e *Engine) leaser() {
	defer e.tasks.Done()
	for i := 1; ; i++ {
		if !e.pub.stuck() {
			e.lease()
		}
		e.beat()
		if i%checkEvery == 0 {
			e.checkStream()
		}
		next := aliveEvery
		if e.leaseErr.Load() {
			next = retryLease
		}
		select {
		case <-time.After(next):
		case <-e.stop:
			return
		}
	}
}

// retryLease is how soon a lease the stream did not take is sent again.
const retryLease = 250 * time.Millisecond

// checkEvery is how many leases go between two checks of the stream's
// identity.
const checkEvery = 5

// lease sends this server's lease, and notes when the stream took it, and
// at which seq. A lease the stream takes at a seq this server has applied
// already is in another stream: the one it read was deleted and created
// again, and perhaps took more messages since than this server applied
// (see checkStream).
func (e *Engine) lease() {
	applied := e.lastApplied.Load()
	reached := applied
	if e.rereading.Load() {
		reached = 0 // compaction need not wait for it: it reads from a snapshot
	}
	ctx, cancel := context.WithTimeout(e.ctx, leaseTimeout)
	defer cancel()
	ack, err := e.js.Publish(ctx, leaseSubject, appendLease(nil, e.id, reached, cutText(e.cfg.Name, maxNameLen)))
	switch {
	case err != nil: // a stream deleted says nothing either: see checkStream
		if !e.leaseErr.Swap(true) {
			e.log.Warn("lease not taken", slog.Any("err", err))
		}
	case int64(ack.Sequence) <= applied:
		e.streamChanged("the stream took a lease at a seq already read")
	default:
		if e.leaseErr.Swap(false) {
			e.log.Info("lease taken again", slog.Duration("waited", time.Since(time.Unix(0, e.leased.Load())).Round(time.Millisecond)))
		}
		e.leased.Store(time.Now().UnixNano())
		e.leaseSeq.Store(int64(ack.Sequence))
	}
}

// leaseTimeout bounds the wait for the stream to take a lease.
const leaseTimeout = time.Second

// maxNameLen bounds a server's name in its lease, so that a lease fits in
// the smallest message a stream may take (see minMsgSize).
const maxNameLen = 128

// checkStream has the room read afresh if the stream is not the one this
// server read: it was deleted, and maybe created again.
func (e *Engine) checkStream() {
	e.readMu.Lock()
	rd := e.reading
	e.readMu.Unlock()
	if rd == nil || !rd.whole {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, leaseTimeout)
	defer cancel()
	info, err := e.stream.Info(ctx)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		e.streamChanged("the stream is gone")
	case err == nil && !info.Created.Equal(rd.created):
		e.streamChanged("the stream was created again")
	}
}

// streamChanged has the room read afresh, from the stream as it is now:
// the one this server read is gone (why says how it knows).
func (e *Engine) streamChanged(why string) {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	if e.reading == nil {
		return // read afresh already
	}
	e.log.Warn(why+": reading the room afresh", slog.String("stream", streamName))
	e.readAfresh()
}

// beat sends this server's heartbeat, core NATS: "<node> <waiting>
// <name>", waiting being how long, in milliseconds, its lease has waited
// for the stream (0 if it was taken within aliveEvery).
func (e *Engine) beat() {
	waiting := time.Since(time.Unix(0, e.leased.Load()))
	if waiting <= aliveEvery+leaseTimeout {
		waiting = 0
	}
	e.nc.Publish(aliveSubject, fmt.Appendf(nil, "%s %d %s", e.id, waiting.Milliseconds(), e.cfg.Name))
}

// A peer is another server, as its heartbeats tell of it.
type peer struct {
	seen   time.Time // when its last heartbeat came
	waited time.Time // when its last heartbeat that said its lease waited came
}

// alive notes the heartbeat of another server.
func (e *Engine) alive(msg *nats.Msg) {
	node, rest, _ := strings.Cut(string(msg.Data), " ")
	ms, _, _ := strings.Cut(rest, " ")
	waiting, err := strconv.ParseInt(ms, 10, 64)
	if node == e.id || err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.peers[node]
	p.seen = time.Now()
	if waiting > 0 {
		p.waited = p.seen
	}
	e.peers[node] = p
}

// othersWait reports whether another server said lately, within
// judgeWithin, that its lease waits for the stream too: then the stream
// takes nobody's (its leader is moving, say), and nobody is judged lost
// meanwhile; and once it takes the others' again, they judge this server
// lost only after lostAfter of the stream's time, longer. It forgets the
// servers not heard from lately.
func (e *Engine) othersWait() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	waits := false
	for node, p := range e.peers {
		switch {
		case time.Since(p.seen) > judgeWithin:
			delete(e.peers, node)
		case time.Since(p.waited) <= judgeWithin:
			waits = true
		}
	}
	return waits
}

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
// joins a room its former clients have left. It is cut off if its lease has waited fenceAfter
// for the stream (unless another server's waits too, and then for
// maxPause), if its records are stuck (see publisher.stuck), or while it
// reads the room afresh. Cut off from the stream, a server must not go on
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
