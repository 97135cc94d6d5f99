package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// firstKept returns the stream seq of the first message said that the
// stream keeps, whose state is info; if it keeps none, of the next.
// Messages before it are gone, for HISTORY.
func (e *Engine) firstKept(ctx context.Context, info *jetstream.StreamInfo) (uint64, error) {
	if info.State.Msgs == 0 {
		return info.State.FirstSeq, nil
	}
	msg, err := e.stream.GetMsg(ctx, info.State.FirstSeq, jetstream.WithGetMsgSubject(sayingsSubject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return info.State.LastSeq + 1, nil
	}
	if err != nil {
		return 0, err
	}
	return msg.Sequence, nil
}

// A reading is one read of the room from the stream, from its first
// message on, into a state of its own. It is whole if it missed no
// message: it got every one the stream held as it began, and no seq after
// those jumped (see receive). Compaction may delete records while a
// server starts, before it hears that server (see keptFrom). Once it got
// to the stream's end whole, its state is the room's (room.Room's Reset),
// and its records are applied to the room: the members here are sent
// what they do. Engine.readMu guards it.
type reading struct {
	last, msgs uint64        // the stream's last seq, and how many messages it held, as it began
	got        uint64        // how many of those it got
	state      *room.State   // the room as read so far; the room's once whole
	ready      chan struct{} // closed once it got to the stream's end, or missed a message
	end, whole bool
}

// readRoom reads the room's state afresh from the stream, in a new
// reading, and returns once it got to the stream's end; its records go on
// being applied as they come. It reads again as long as records were
// deleted before it read them.
func (e *Engine) readRoom(ctx context.Context) error {
	opts := []jetstream.PullConsumeOpt{
		// Short pulls with frequent heartbeats: if the consumer's NATS
		// node goes, the ordered consumer notices within a second or two
		// and starts again where it was, rather than in 30 s.
		jetstream.PullExpiry(2 * time.Second), jetstream.PullHeartbeat(500 * time.Millisecond),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			e.log.Warn("reading the stream", slog.Any("err", err))
		}),
	}
	for {
		var info *jetstream.StreamInfo
		var firstKept uint64 // the stream seq of the first message it keeps
		var cons jetstream.Consumer
		err := retry(ctx, func(ctx context.Context) (err error) {
			if info, err = e.stream.Info(ctx); err != nil {
				return err
			}
			if firstKept, err = e.firstKept(ctx, info); err != nil {
				return err
			}
			cons, err = e.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
			return err
		})
		if err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		rd := &reading{last: info.State.LastSeq, msgs: info.State.Msgs, ready: make(chan struct{})}
		e.room.Read(func(s *room.State) { rd.state = s.Fresh(seqOf(firstKept, 0) - 1) })
		e.readMu.Lock()
		e.reading = rd
		e.mu.Lock()
		e.departed = nil
		e.mu.Unlock()
		// What is gone is applied, as far as it matters: the records that
		// compaction deleted made no difference to the room as it is.
		e.lastApplied.Store(int64(info.State.FirstSeq) - 1)
		if rd.msgs == 0 {
			e.endReading(rd, false)
		}
		e.readMu.Unlock()
		if e.cons, err = cons.Consume(func(msg jetstream.Msg) { e.receive(rd, msg) }, opts...); err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		if err := e.readToEnd(ctx, rd); err != nil {
			e.cons.Stop()
			return err
		}
		e.readMu.Lock()
		whole := rd.whole
		e.readMu.Unlock()
		if whole {
			return nil
		}
		e.log.Warn("records deleted while this server read them: reading the stream again")
		e.cons.Stop()
	}
}

// readToEnd waits until the reading rd has got to the stream's end.
func (e *Engine) readToEnd(ctx context.Context, rd *reading) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-rd.ready:
			return nil
		case <-tick.C:
			// In case compaction deleted the last records on the way, and
			// no record says that none is pending: the stream holds none
			// after the last applied. (Not the consumer's own count: asking
			// for it waits while the consumer is made again.)
			e.beat()
			stream, err := e.stream.Info(ctx)
			if err != nil {
				break
			}
			last := int64(stream.State.LastSeq)
			applied := e.lastApplied.Load()
			if applied < last {
				if next, err := e.nextStored(ctx, applied+1); err != nil || next != 0 {
					break // on its way
				}
			}
			e.readMu.Lock()
			if e.reading == rd {
				e.endReading(rd, last > max(applied, int64(rd.last)))
			}
			e.readMu.Unlock()
		case <-ctx.Done():
			return fmt.Errorf("reading the stream %s: %w", streamName, ctx.Err())
		}
	}
}

// nextStored returns the stream seq of the first message the stream holds
// from seq on, or 0 if it holds none.
func (e *Engine) nextStored(ctx context.Context, seq int64) (int64, error) {
	msg, err := e.stream.GetMsg(ctx, uint64(seq), jetstream.WithGetMsgSubject(anySubject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return int64(msg.Sequence), nil
}

// receive applies the records of a message that the reading rd got.
// The consumer calls it for one message after another, in the stream's
// order. Until rd has got to the stream's end, it applies them to rd's
// state only: the members here, if any, are on their way out (see
// rereader).
func (e *Engine) receive(rd *reading, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		e.log.Error("stream record without metadata", slog.Any("err", err))
		return
	}
	e.readMu.Lock()
	defer e.readMu.Unlock()
	if rd != e.reading { // given up
		return
	}
	// Compaction deletes only what every server counted has applied, and
	// what was gone as the reading began is seen in its count (see
	// endReading): a jump past both means records this server had yet to
	// apply were deleted. It was not counted: not heard from for
	// lostAfter, or starting.
	if next := max(e.lastApplied.Load(), int64(rd.last)) + 1; int64(md.Sequence.Stream) > next {
		if !rd.whole {
			e.reading = nil
			e.endReading(rd, true) // readRoom reads again
			return
		}
		e.missedRecords(next, int64(md.Sequence.Stream)-1)
		return
	}
	if md.Sequence.Stream <= rd.last {
		rd.got++
	}
	e.recs = e.recs[:0]
	for rec, err := range records(msg.Data()) {
		if err != nil {
			e.log.Error("bad stream record", slog.Uint64("seq", md.Sequence.Stream), slog.Any("err", err))
			break
		}
		rec.Seq, rec.At = seqOf(md.Sequence.Stream, len(e.recs)), md.Timestamp
		e.recs = append(e.recs, rec)
	}
	e.evs = e.evs[:0]
	if rd.whole {
		e.evs = e.room.Apply(e.recs, e.evs)
	} else {
		for _, rec := range e.recs {
			e.evs = append(e.evs, rd.state.Apply(rec))
		}
	}
	e.noteDepartures(e.recs, e.evs)
	clear(e.recs) // let the message go
	clear(e.evs)
	e.lastApplied.Store(int64(md.Sequence.Stream))
	if md.NumPending == 0 {
		e.endReading(rd, false)
	}
}

// noteDepartures notes the members whose last record is among recs, which
// did evs (see isLast), for compaction.
func (e *Engine) noteDepartures(recs []room.Record, evs []room.Event) {
	for i, rec := range recs {
		if isLast(rec, evs[i]) {
			e.mu.Lock()
			e.departed = append(e.departed, departure{rec.ID, rec.Seq})
			e.mu.Unlock()
		}
	}
}

// missedRecords notes that records from the stream seq from to to, which
// this server had yet to apply, were deleted: it has the room read afresh.
// The caller holds e.readMu.
func (e *Engine) missedRecords(from, to int64) {
	e.log.Warn("records deleted before this server read them: reading the room afresh",
		slog.Int64("from", from), slog.Int64("to", to))
	e.readAfresh()
}

// readAfresh has the room read afresh (see rereader), and applies nothing
// until then. The caller holds e.readMu.
func (e *Engine) readAfresh() {
	e.reading = nil
	select {
	case e.missed <- struct{}{}:
	default:
	}
}

// endReading ends the reading rd: it got to the stream's end, or missed a
// message after those the stream held as it began. It is whole unless it
// missed one, or got fewer of those; then its state becomes the room's.
// The caller holds e.readMu.
func (e *Engine) endReading(rd *reading, missed bool) {
	if rd.end {
		return
	}
	rd.end, rd.whole = true, !missed && rd.got >= rd.msgs
	if rd.whole {
		e.room.Reset(rd.state)
		rd.state = nil
		if int64(rd.last) > e.lastApplied.Load() {
			// The last messages were deleted before it began: a leave,
			// say, that every server had applied.
			e.lastApplied.Store(int64(rd.last))
		}
	}
	close(rd.ready)
}

// isLast reports whether rec, which did ev, is the last record of its
// member: a leave (of a member present or not), or a join refused, as a
// client that asks again for a nick is another member.
func isLast(rec room.Record, ev room.Event) bool {
	return rec.Op == room.OpLeave || rec.Op == room.OpJoin && ev.Op == room.OpRefuse
}
