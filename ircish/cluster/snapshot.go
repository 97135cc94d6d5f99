package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
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
// each fit in a message, followed by its index (on snapSubject): its seq,
// and the stream seqs of its first and last parts. The index is stored
// last, so the newest index always names a snapshot stored whole. Each
// part says whose it is (snapHeader): a snapshot that another server
// stored at the same time may have parts between them.
type snapshot struct {
	Seq   int64         `json:"seq"` // the stream seq of the last message it folds
	Nodes *nodes        `json:"nodes"`
	Room  room.Snapshot `json:"room"`
}

// A snapIndex is what the index of a snapshot says.
type snapIndex struct {
	ID    string `json:"id"` // in the snapHeader of each of its parts
	Seq   int64  `json:"seq"`
	Parts int    `json:"parts"`
	First uint64 `json:"first"` // the stream seq of its first part
	Last  uint64 `json:"last"`  // and of its last
}

// snapHeader is the header of a snapshot's part: the snapshot's ID.
const snapHeader = "Ircish-Snapshot"

// storeSnapshot stores snap in the stream, in parts of at most size bytes.
// The index goes only if the last index in the stream is still that of
// stream seq after (0: none): of two servers that compact at once, one
// stores its snapshot, and the other's index is refused.
func (e *Engine) storeSnapshot(ctx context.Context, snap *snapshot, size int, after uint64) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	idx := snapIndex{ID: fmt.Sprint(e.id, ".", snap.Seq)}
	idx.Seq = snap.Seq
	for len(data) > 0 {
		msg := nats.NewMsg(snapPartSubject)
		msg.Data = data[:min(size, len(data))]
		msg.Header.Set(snapHeader, idx.ID)
		data = data[len(msg.Data):]
		ack, err := e.js.PublishMsg(ctx, msg)
		if err != nil {
			return err
		}
		if idx.Parts == 0 {
			idx.First = ack.Sequence
		}
		idx.Parts, idx.Last = idx.Parts+1, ack.Sequence
	}
	index, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	_, err = e.js.Publish(ctx, snapSubject, index, jetstream.WithExpectLastSequenceForSubject(after, snapSubject))
	return err
}

// lastIndex returns the index of the newest snapshot in the stream, and
// its stream seq; nil and 0 if the stream holds none.
func (e *Engine) lastIndex(ctx context.Context) (*snapIndex, uint64, error) {
	msg, err := e.stream.GetLastMsgForSubject(ctx, snapSubject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	idx := &snapIndex{}
	if err := json.Unmarshal(msg.Data, idx); err != nil {
		return nil, 0, fmt.Errorf("the snapshot's index at %d: %w", msg.Sequence, err)
	}
	return idx, msg.Sequence, nil
}

// loadSnapshot returns the newest snapshot in the stream, and the stream
// seq of its index; nil and 0 if the stream holds none.
func (e *Engine) loadSnapshot(ctx context.Context) (*snapshot, uint64, error) {
	idx, at, err := e.lastIndex(ctx)
	if idx == nil || err != nil {
		return nil, 0, err
	}
	var data []byte
	for seq, parts := idx.First, 0; parts < idx.Parts; seq++ {
		part, err := e.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(snapPartSubject))
		if err == nil && part.Sequence > idx.Last {
			err = jetstream.ErrMsgNotFound
		}
		if err != nil {
			return nil, 0, fmt.Errorf("part %d of %d of the snapshot at %d: %w", parts+1, idx.Parts, at, err)
		}
		seq = part.Sequence
		if part.Header.Get(snapHeader) == idx.ID {
			data = append(data, part.Data...)
			parts++
		}
	}
	snap := &snapshot{}
	if err := json.Unmarshal(data, snap); err != nil {
		return nil, 0, fmt.Errorf("the snapshot at %d: %w", at, err)
	}
	if snap.Seq != idx.Seq || snap.Nodes == nil || snap.Nodes.By == nil {
		return nil, 0, fmt.Errorf("the snapshot at %d is not whole", at)
	}
	return snap, at, nil
}
