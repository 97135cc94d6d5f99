package server

import (
	"context"
	"sync"
	"time"

	"ircish/ircish/room"
)

// A localEngine is the room's engine in process, a server's unless it is
// given another: it has the room apply each record as it is submitted,
// and gives messages seqs one after another.
type localEngine struct {
	room room.Room

	mu  sync.Mutex // held while a record is applied: seqs grow in the room's order
	seq int64      // of the last message
	// rec and ev are the batch of one record it hands the room, and its
	// event: kept here, so that applying a record allocates nothing.
	rec [1]room.Record
	ev  [1]room.Event
}

// Start has e order the records of r, which is empty.
func (e *localEngine) Start(_ context.Context, r room.Room) error {
	e.room = r
	return nil
}

// Submit has the room apply rec at once.
func (e *localEngine) Submit(rec room.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rec.Op == room.OpSay {
		e.seq++
		rec.Seq, rec.At = e.seq, time.Now()
	}
	e.rec[0] = rec
	e.room.Apply(e.rec[:], e.ev[:0])
	e.rec[0], e.ev[0] = room.Record{}, room.Event{} // let their strings go
	return nil
}

// Node returns "": the members' ids are the room's alone.
func (e *localEngine) Node() string { return "" }

// Close does nothing: every record is applied as it is submitted.
func (e *localEngine) Close(context.Context) {}
