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
		if e.leaseErr.Load() {
			e.move()
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

// move has this server use the next NATS node it knows, once its lease
// has waited moveAfter, at most every moveEvery: NATS does not relay a
// message through a third node, so a node that cannot route to the
// stream's leader takes no record from this server, though others would.
// It stays if another server's lease waits too: the stream takes nobody's,
// and moving would only have nats.go make its reader again.
func (e *Engine) move() {
	waited := time.Since(time.Unix(0, e.leased.Load()))
	moved := time.Since(time.Unix(0, e.moved.Load()))
	if waited < moveAfter || moved < moveEvery || !e.nc.IsConnected() || len(e.nc.Servers()) < 2 || e.othersWait() {
		return
	}
	e.moved.Store(time.Now().UnixNano())
	e.log.Warn("lease not taken through this NATS node: trying another",
		slog.String("url", e.nc.ConnectedUrlRedacted()), slog.Duration("lease_waited", waited.Round(time.Millisecond)))
	if err := e.nc.ForceReconnect(); err != nil {
		e.log.Warn("cannot move to another NATS node", slog.Any("err", err))
	}
}

// moveAfter is how long a lease waits before this server moves to another
// NATS node: well within fenceAfter. moveEvery bounds how often it moves.
const (
	moveAfter = 2 * time.Second
	moveEvery = 5 * time.Second
)

// maxNameLen bounds a server's name in its lease, so that a lease fits in
// the smallest message a stream may take (see minMsgSize).
const maxNameLen = 128

// checkStream has the room read afresh if the stream is not the one this
// server read: it was deleted, and maybe created again.
func (e *Engine) checkStream() {
	e.readMu.Lock()
	rd := e.reading
	whole := rd != nil && rd.whole
	e.readMu.Unlock()
	if !whole {
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
// for the stream (0 if it was taken within aliveEvery and retryLease:
// the others are to know before this server would move).
func (e *Engine) beat() {
	waiting := time.Since(time.Unix(0, e.leased.Load()))
	if waiting <= aliveEvery+retryLease {
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
