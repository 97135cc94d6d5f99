package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// A snapshot is the room's fold at a stream seq: the room's state and the
// servers as the stream tells of them. Compaction stores one in the
// stream, and only then deletes the messages up to its seq: a reader
// starts from the newest snapshot and applies the messages after it, and
// gets the room that one which read every message gets.
//
// A snapshot is stored as JSON, cut into parts (on snapPartSubject) that
// each fit in a message, followed by its index (on snapSubject): its seq
// and the stream seqs of its parts. The index is stored last, so the
// newest index always names a snapshot stored whole.
type snapshot struct {
	Seq   int64         `json:"seq"` // the stream seq of the last message it folds
	Nodes *nodes        `json:"nodes"`
	Room  room.Snapshot `json:"room"`
}

// A snapIndex is what the index of a snapshot says.
type snapIndex struct {
	Seq   int64    `json:"seq"`
	Parts []uint64 `json:"parts"`
}

// storeSnapshot stores snap in the stream, in parts of at most size bytes.
// The index goes only if the last index in the stream is still that of
// stream seq after (0: none): of two servers that compact at once, one
// stores its snapshot, and the other's index is refused.
func (e *Engine) storeSnapshot(ctx context.Context, snap *snapshot, size int, after uint64) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	idx := snapIndex{Seq: snap.Seq}
	for len(data) > 0 {
		part := data[:min(size, len(data))]
		data = data[len(part):]
		ack, err := e.js.Publish(ctx, snapPartSubject, part)
		if err != nil {
			return err
		}
		idx.Parts = append(idx.Parts, ack.Sequence)
	}
	index, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	if len(index) > size {
		return fmt.Errorf("a snapshot of %d parts has an index too long for a message", len(idx.Parts))
	}
	_, err = e.js.Publish(ctx, snapSubject, index, jetstream.WithExpectLastSequenceForSubject(after, snapSubject))
	return err
}

// loadSnapshot returns the newest snapshot in the stream, and the stream
// seq of its index; nil and 0 if the stream holds none.
func (e *Engine) loadSnapshot(ctx context.Context) (*snapshot, uint64, error) {
	msg, err := e.stream.GetLastMsgForSubject(ctx, snapSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var idx snapIndex
	if err := json.Unmarshal(msg.Data, &idx); err != nil {
		return nil, 0, fmt.Errorf("the snapshot's index at %d: %w", msg.Sequence, err)
	}
	var data []byte
	for _, seq := range idx.Parts {
		part, err := e.stream.GetMsg(ctx, seq)
		if err != nil {
			return nil, 0, fmt.Errorf("part %d of the snapshot at %d: %w", seq, msg.Sequence, err)
		}
		if part.Subject != snapPartSubject {
			return nil, 0, fmt.Errorf("part %d of the snapshot at %d is on %s", seq, msg.Sequence, part.Subject)
		}
		data = append(data, part.Data...)
	}
	snap := &snapshot{}
	if err := json.Unmarshal(data, snap); err != nil {
		return nil, 0, fmt.Errorf("the snapshot at %d: %w", msg.Sequence, err)
	}
	if snap.Seq != idx.Seq || snap.Nodes == nil || snap.Nodes.By == nil {
		return nil, 0, fmt.Errorf("the snapshot at %d is not whole", msg.Sequence)
	}
	return snap, msg.Sequence, nil
}
