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

// A reading is one read of the room from the stream: from its newest
// snapshot, if it has one, and then each message after it, into a state
// of its own. It is whole if it missed no message: compaction may delete
// the messages after its snapshot while it reads them, if it stores a
// newer one (see compact); as compaction deletes only from the stream's
// start, the seqs of the messages it gets then jump. Once it got to the
// stream's end whole, its state is the room's (room.Room's Reset), and
// its messages are applied to the room: the members here are sent what
// they do. Engine.readMu guards it.
type reading struct {
	created time.Time // the stream's, which names it: one created again is another room
	base    int64     // of seqs: see seqOf
	// holes is set if the stream had messages deleted between others as
	// the reading began, as a server of an earlier version compacted it:
	// the seqs of a stream so compacted jump.
	holes bool
	state *room.State   // the room as read so far; the room's once whole
	nodes *nodes        // the servers, as read so far
	ready chan struct{} // closed once it got to the stream's end, or missed a message
	end   bool
	whole bool
}

// readRoom reads the room's state afresh from the stream, in a new
// reading, and returns once it got to the stream's end; its messages go on
// being applied as they come. It reads again as long as messages were
// deleted before it read them. If the stream is gone, it creates it: a new
// room.
func (e *Engine) readRoom(ctx context.Context) error {
	opts := []jetstream.PullConsumeOpt{
		// Short pulls with frequent heartbeats: if the consumer's NATS
		// node goes, the ordered consumer notices within a second or two
		// and starts again where it was, rather than in 30 s.
		jetstream.PullExpiry(2 * time.Second), jetstream.PullHeartbeat(500 * time.Millisecond),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrConsumerDeleted) { // by the placer, most likely
				e.log.Warn("reading the stream", slog.Any("err", err))
			}
		}),
	}
	for {
		var info *jetstream.StreamInfo
		var snap *snapshot
		var cons jetstream.Consumer
		err := retry(ctx, func(ctx context.Context) (err error) {
			if _, err = e.openStream(ctx); err != nil { // a stream deleted is made again
				return err
			}
			if err = e.fixStream(ctx); err != nil {
				return err
			}
			if info, err = e.stream.Info(ctx); err != nil {
				return err
			}
			if snap, _, err = e.loadSnapshot(ctx); err != nil {
				return err
			}
			cons, err = e.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
				DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
				OptStartSeq:   uint64(snap.seqOrZero()) + 1,
			})
			return err
		})
		if errors.As(err, new(streamRefusal)) {
			return err // it names the stream
		}
		if err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		rd, err := e.newReading(info, snap)
		if err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		e.readMu.Lock()
		e.reading = rd
		// What is gone is applied, as far as it matters: the snapshot
		// holds what those messages made.
		e.lastApplied.Store(max(snap.seqOrZero(), int64(info.State.FirstSeq)-1))
		if info.State.LastSeq <= uint64(e.lastApplied.Load()) {
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
		e.log.Warn("messages deleted while this server read them: reading the stream again")
		e.cons.Stop()
	}
}

// seqOrZero returns the stream seq of the last message snap folds, or 0
// for no snapshot.
func (snap *snapshot) seqOrZero() int64 {
	if snap == nil {
		return 0
	}
	return snap.Seq
}

// newReading returns a reading of the stream whose info is info, from
// snap, or from its first message if snap is nil.
func (e *Engine) newReading(info *jetstream.StreamInfo, snap *snapshot) (*reading, error) {
	rd := &reading{
		created: info.Created,
		base:    baseOf(info.Created),
		holes:   info.State.NumDeleted > 0,
		nodes:   newNodes(),
		ready:   make(chan struct{}),
	}
	var err error
	e.room.Read(func(s *room.State) {
		if snap == nil {
			// Messages before the first the stream holds are gone, for
			// HISTORY.
			rd.state = s.Fresh(seqOf(rd.base, info.State.FirstSeq, 0) - 1)
			return
		}
		rd.state, err = s.Restore(snap.Room)
	})
	if snap != nil {
		rd.nodes = snap.Nodes
	}
	return rd, err
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
			// In case no message says that none is pending: the stream
			// holds none after the last applied. (Not the consumer's own
			// count: asking for it waits while the consumer is made again.)
			stream, err := e.stream.Info(ctx)
			if err != nil {
				break
			}
			if applied := e.lastApplied.Load(); applied < int64(stream.State.LastSeq) {
				if next, err := e.nextStored(ctx, applied+1); err != nil || next != 0 {
					break // on its way
				}
			}
			e.readMu.Lock()
			if e.reading == rd {
				e.endReading(rd, false)
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

// receive applies a message that the reading rd got. The consumer calls
// it for one message after another, in the stream's order. Until rd has
// got to the stream's end, it applies them to rd's state only: the
// members here, if any, are on their way out (see rereader).
func (e *Engine) receive(rd *reading, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		e.log.Error("stream message without metadata", slog.Any("err", err))
		return
	}
	e.readMu.Lock()
	defer e.readMu.Unlock()
	if rd != e.reading { // given up
		return
	}
	seq := int64(md.Sequence.Stream)
	if next := e.lastApplied.Load() + 1; seq != next && !(rd.holes && !rd.end && seq > next) {
		// Messages were deleted before this server read them, or the
		// stream is another (see reading).
		if !rd.end {
			e.reading = nil
			e.endReading(rd, true) // readRoom reads again
			return
		}
		// Compaction deletes only what every server in the cluster has
		// applied: this one was thought lost, or lagged.
		e.log.Warn("messages missing from the stream: reading the room afresh",
			slog.Int64("applied", next-1), slog.Int64("got", seq))
		e.readAfresh()
		return
	}
	e.fold(rd, msg, md)
	e.lastApplied.Store(seq)
	e.readerName = md.Consumer
	if md.NumPending == 0 {
		e.endReading(rd, false)
	}
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
// message. Unless it missed one, it is whole, and its state becomes the
// room's. The caller holds e.readMu.
func (e *Engine) endReading(rd *reading, missed bool) {
	if rd.end {
		return
	}
	rd.end, rd.whole = true, !missed
	if rd.whole {
		e.room.Reset(rd.state)
		rd.state = nil
		for id, n := range rd.nodes.By {
			if !n.Lost && id != e.id {
				e.log.Info("server found", slog.String("node", n.Name), slog.String("id", id))
			}
		}
	}
	close(rd.ready)
}

// fold applies the message msg, whose metadata is md, that the reading rd
// got: to the room, if rd is whole, else to rd's state. Before it, the
// users of the servers lost by the message's time leave (see nodes). The
// caller holds e.readMu.
func (e *Engine) fold(rd *reading, msg jetstream.Msg, md *jetstream.MsgMetadata) {
	subject := msg.Subject()
	if subject == snapSubject || subject == snapPartSubject {
		return // compaction's: it changes nothing
	}
	e.recs, e.evs = e.recs[:0], e.evs[:0]
	for _, id := range rd.nodes.tick(md.Timestamp) {
		e.recs = e.leaveLost(rd, id, e.recs)
	}
	if subject == leaseSubject {
		e.noteLease(rd, msg.Data())
	} else if node, count, ok := msgOrigin(msg.Headers()); !ok || rd.nodes.heard(node, count) {
		lost := len(e.recs)
		for rec, err := range records(msg.Data()) {
			if err != nil {
				e.log.Error("bad stream record", slog.Uint64("seq", md.Sequence.Stream), slog.Any("err", err))
				break
			}
			rec.Seq, rec.At = seqOf(rd.base, md.Sequence.Stream, len(e.recs)-lost), md.Timestamp
			e.recs = append(e.recs, rec)
		}
	}
	if rd.whole {
		e.evs = e.room.Apply(e.recs, e.evs)
	} else {
		for _, rec := range e.recs {
			e.evs = append(e.evs, rd.state.Apply(rec))
		}
	}
	clear(e.recs) // let the message go
	clear(e.evs)
}

// leaveLost appends to recs a leave for each user of the server id, lost,
// and returns it.
func (e *Engine) leaveLost(rd *reading, id string, recs []room.Record) []room.Record {
	n := len(recs)
	read := func(s *room.State) {
		for _, p := range s.People() {
			if p.ID.Node == id {
				recs = append(recs, room.Record{Op: room.OpLeave, ID: p.ID, Text: reasonServerLost})
			}
		}
	}
	if rd.whole {
		e.room.Read(read)
		e.log.Warn("server lost", slog.String("node", rd.nodes.By[id].Name), slog.String("id", id), slog.Int("users", len(recs)-n))
	} else {
		read(rd.state)
	}
	return recs
}

// noteLease notes a lease that the reading rd got.
func (e *Engine) noteLease(rd *reading, data []byte) {
	node, reached, name, err := decodeLease(data)
	if err != nil {
		e.log.Error("bad lease", slog.Any("err", err))
		return
	}
	if _, known := rd.nodes.By[node]; !known && rd.whole && node != e.id {
		e.log.Info("server found", slog.String("node", name), slog.String("id", node))
	}
	rd.nodes.heard(node, 0)
	rd.nodes.leased(node, name, reached)
}
