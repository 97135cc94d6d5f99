package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// beat sends this server's heartbeat: see alive.
func (e *Engine) beat() {
	e.nc.Publish(aliveSubject, fmt.Appendf(nil, "%s %d %s", e.id, e.lastApplied.Load(), e.cfg.Name))
}

// alive notes the heartbeat of a server, this one's included: "<node>
// <applied> <name>", applied being the stream seq of the last message it
// applied.
func (e *Engine) alive(msg *nats.Msg) {
	node, name, _ := strings.Cut(string(msg.Data), " ")
	// From a server of an earlier version, "<node> <name>": compaction
	// keeps all for it (reached 0) until it is gone or upgraded.
	var seq int64
	if applied, rest, ok := strings.Cut(name, " "); ok {
		if n, err := strconv.ParseInt(applied, 10, 64); err == nil {
			seq, name = n, rest
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.names[node]; !ok && node != e.id {
		e.log.Info("server found", slog.String("node", name), slog.String("id", node))
	}
	e.lastSeen[node] = time.Now()
	e.reached[node] = seq
	e.names[node] = name
}

// heard counts every server as heard from now: after this server
// (re)connects, they have lostAfter to be heard again, and those never
// heard startupListen.
func (e *Engine) heard() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.listening = now
	for node := range e.lastSeen {
		e.lastSeen[node] = now
	}
	e.lastSeen[e.id] = now
}

// lost reports whether the server node is lost at now. The caller holds
// e.mu.
func (e *Engine) lost(node string, now time.Time) bool {
	if seen, ok := e.lastSeen[node]; ok {
		return now.Sub(seen) > lostAfter
	}
	return now.Sub(e.listening) > startupListen
}

// watch says this server is alive, fences it while it is cut off and has
// the users of lost servers leave, until the cluster is closed.
func (e *Engine) watch() {
	defer e.tasks.Done()
	tick := time.NewTicker(aliveEvery)
	defer tick.Stop()
	var reader stallWatch
	for {
		e.beat()
		e.checkStall(&reader)
		e.checkFence(e.pub.stuck())
		if !e.fenced.Load() {
			e.leaveLost()
		}
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
// moves a stream (see stuckAfter).
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
// has stalled (see stallWatch). The stream holds at least what this
// server last published and what the other servers it hears say they
// have applied. A server cut off hears none, and its reader waits for
// NATS, as does one reading the room afresh: their readers are not
// judged.
func (e *Engine) checkStall(w *stallWatch) {
	e.mu.Lock()
	now := time.Now()
	judge := now.Sub(e.lastSeen[e.id]) <= judgeWithin && !e.rereading.Load()
	known := e.published.Load()
	for node, seq := range e.reached {
		if node != e.id && !e.lost(node, now) {
			known = max(known, seq)
		}
	}
	e.mu.Unlock()
	applied := e.lastApplied.Load()
	if !judge {
		*w = stallWatch{}
		return
	}
	if !w.stalled(applied, known, now) {
		return
	}
	*w = stallWatch{}
	// A heartbeat may say more than the stream holds (one of a server of
	// an earlier version, whose name begins with a number): ask it.
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	next, err := e.nextStored(ctx, applied+1)
	cancel()
	if err != nil || next == 0 {
		return
	}
	e.readMu.Lock()
	rd := e.reading
	live := rd != nil && rd.whole && !e.rereading.Load() && e.lastApplied.Load() == applied
	if live {
		e.readAfresh()
	}
	e.readMu.Unlock()
	if live { // else read afresh already, or applying again
		e.log.Warn("reading the stream stalled: reading the room afresh",
			slog.Int64("applied", applied), slog.Int64("stored", known), slog.Duration("for", stallAfter))
	}
}

// rereader reads the room afresh from the stream whenever this server
// finds that records it had yet to apply were deleted (see receive), or
// that its reader has stalled (see checkStall), until the cluster is
// closed. Its state may lack a leave, or have missed
// lines: so that no client is served a room that differs from the
// others', the server is fenced until it has read the room again.
func (e *Engine) rereader() {
	defer e.tasks.Done()
	for {
		select {
		case <-e.missed:
		case <-e.stop:
			return
		}
		e.rereading.Store(true)
		e.checkFence(e.pub.stuck())
		e.room.StopWaiting()
		e.cons.Stop()
		e.lastApplied.Store(0) // compaction keeps all for this server meanwhile
		for e.readRoom(e.ctx) != nil {
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
		e.checkFence(e.pub.stuck())
	}
}

// goneWait bounds the wait of a server that read the room afresh for its
// clients to go: as long as a client may wait for a record of its own.
const goneWait = 10 * time.Second

// checkFence fences this server once it has not heard its own heartbeat
// for fenceAfter, or its records are stuck (see publisher.stuck), or it
// reads the room afresh, and ends the fence once none is so and it has
// applied all that the stream holds (see atEnd). Cut off from NATS, a
// server must not go on as a room of its own: the others will have its
// users leave after lostAfter, which is longer. Cut off from the stream
// only, it would keep its clients waiting for nothing; it goes on saying
// it is alive, so that its users stay in the room until their records,
// held, are in the stream (and their leaving after them).
func (e *Engine) checkFence(stuck bool) {
	e.fenceMu.Lock()
	defer e.fenceMu.Unlock()
	e.mu.Lock()
	heard := e.lastSeen[e.id]
	e.mu.Unlock()
	cutOff := stuck || time.Since(heard) > fenceAfter || e.rereading.Load()
	if cutOff == e.fenced.Load() || !cutOff && !e.atEnd() {
		return
	}
	e.fenced.Store(cutOff)
	if cutOff {
		e.log.Warn("cut off from the cluster: clients told to go, and refused",
			slog.Duration("unheard", time.Since(heard).Round(time.Millisecond)), slog.Bool("stuck", stuck),
			slog.Bool("rereading", e.rereading.Load()))
		e.pub.wake()
		e.room.Fence(true)
		return
	}
	e.log.Info("back in the cluster: serving again")
	e.room.Fence(false)
	e.heard()
}

// atEnd reports whether this server has applied all that the stream
// holds, as it must have before it serves again after a fence: back from
// a cut, its reader may not have found yet that records it had yet to
// apply were deleted meanwhile, the last ones included. If nothing more
// is on its way, it has; and if records are missing, it has the room read
// afresh.
func (e *Engine) atEnd() bool {
	e.readMu.Lock()
	rd := e.reading
	live := rd != nil && rd.whole
	e.readMu.Unlock()
	if !live { // being read
		return false
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	stream, err := e.stream.Info(ctx)
	if err != nil {
		return false
	}
	// In a busy room, the records stored up to now are on their way.
	last := int64(stream.State.LastSeq)
	for wait := time.Now(); e.lastApplied.Load() < last; time.Sleep(5 * time.Millisecond) {
		if time.Since(wait) > 200*time.Millisecond {
			break
		}
	}
	applied := e.lastApplied.Load()
	if applied >= last {
		return true
	}
	// The next record to apply is never one that compaction deletes:
	// if the stream lacks it, it was deleted unread.
	next, err := e.nextStored(ctx, applied+1)
	if err != nil || next == applied+1 || e.lastApplied.Load() != applied {
		return false // on its way, or no answer
	}
	to := last
	if next != 0 {
		to = next - 1
	}
	e.readMu.Lock()
	if e.reading == rd {
		e.missedRecords(applied+1, to)
	}
	e.readMu.Unlock()
	return false
}

// leaveLost publishes, for each user of a server lost, that it left.
// Every server does, every lostEvery for as long as the user is in the
// room: the stream keeps one record per user (see publish), and the fold
// makes any other nothing. A server that has not heard its own heartbeat
// within judgeWithin may be the one cut off: it judges no other.
func (e *Engine) leaveLost() {
	e.mu.Lock()
	cutOff := time.Since(e.lastSeen[e.id]) > judgeWithin
	e.mu.Unlock()
	if cutOff {
		return
	}
	ids := e.othersUsers()
	now := time.Now()
	e.mu.Lock()
	lost := make(map[string]int)
	for _, id := range ids {
		if e.lost(id.Node, now) && now.Sub(e.proposed[id.Node]) >= lostEvery {
			lost[id.Node]++
		}
	}
	for node, n := range lost {
		e.log.Warn("server lost", slog.String("node", e.names[node]), slog.String("id", node), slog.Int("users", n))
		e.proposed[node] = now
	}
	e.mu.Unlock()
	for _, id := range ids {
		if lost[id.Node] > 0 {
			msg := nats.NewMsg(memberSubject(id))
			msg.Data = appendRecord(nil, room.Record{Op: room.OpLeave, ID: id, Text: reasonServerLost})
			msg.Header.Set(jetstream.MsgIDHeader, "lost."+id.Node+"."+strconv.FormatUint(id.Num, 10))
			e.js.PublishMsgAsync(msg) // if it fails, the next round publishes again
		}
	}
}

// clearLost waits, if the room has users of other servers, to hear from
// those servers, and has the users of those not heard within startupListen
// leave before this server takes clients: after a crash, they may be its
// own former users, reconnecting under their nicks.
func (e *Engine) clearLost(ctx context.Context) error {
	// unheard reports whether the room has users of servers not heard yet;
	// with lostOnly, of servers lost.
	unheard := func(lostOnly bool) bool {
		ids := e.othersUsers()
		e.mu.Lock()
		defer e.mu.Unlock()
		now := time.Now()
		for _, id := range ids {
			_, heard := e.lastSeen[id.Node]
			if lostOnly && e.lost(id.Node, now) || !lostOnly && !heard {
				return true
			}
		}
		return false
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startupListen + time.Millisecond)
	for listening := true; listening && unheard(false); {
		select {
		case <-tick.C:
		case <-deadline:
			listening = false
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.leaveLost()
	for unheard(true) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the users of lost servers to leave: %w", ctx.Err())
		}
	}
	return nil
}

// othersUsers returns the member ids of the users of other servers in the
// room.
func (e *Engine) othersUsers() []room.MemberID {
	var ids []room.MemberID
	e.room.Read(func(s *room.State) {
		for _, p := range s.People() {
			if p.ID.Node != e.id {
				ids = append(ids, p.ID)
			}
		}
	})
	return ids
}
