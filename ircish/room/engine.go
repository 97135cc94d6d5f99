// Package room is the chat room's logic as a pure fold, and the contract
// between a room and the engine that orders what its members do.
//
// Records (Record) of what members do go in, in one order, and events
// (Event) come out: State.Apply decides who joins, which nick is refused,
// who hears what, and keeps the last messages said in a Ring. It does no
// I/O and reads no clock, so that servers that apply the same records
// agree on everything, and on what each client is sent.
//
// An Engine orders the records; a Room (the server's, see package server)
// applies them. The two meet over this contract alone, as an application
// and hashicorp/raft meet over raft's FSM.
package room

import (
	"context"
	"errors"

	"ircish/ircish"
)

// An Engine puts the records of a room's members in one order and hands
// them back to the room, in that order, to apply: in process, as they are
// submitted (package server); in a cluster, through a NATS JetStream
// stream that every server reads, so that every server's room applies
// the same records in the same order (package cluster).
//
// The rules of the contract:
//   - One lock order: engine, then room. An engine may call the Room's
//     methods while it holds a lock of its own; the room never holds its
//     lock while it calls the Engine, and neither takes the other's lock.
//   - The engine calls Apply and Reset from one goroutine at a time, and
//     Reset never while an Apply is under way; Read, StopWaiting, Fence,
//     Members and Closed may be called from any goroutine, at any time.
//   - The room numbers each member's records (Record.Made) before it
//     submits them; the engine gives each message its Seq and At, its
//     seqs growing.
//   - A record a member submits is applied once at most, after every
//     record the member submitted before it.
type Engine interface {
	// Start begins ordering the records of r. An engine that keeps the
	// room's records reads them, and hands r the state they make with
	// Reset, before it returns.
	Start(ctx context.Context, r Room) error
	// Submit puts rec in the room's order. It may wait while the engine
	// has too much to order, until r.Closed; it returns ErrSilenced if
	// the member may no longer be heard, or a protocol error (an
	// *ircish.Error) for a record the engine cannot carry.
	Submit(rec Record) error
	// Node returns this server's part of the member ids (MemberID.Node)
	// of its members: "" in process.
	Node() string
	// Close stops ordering once the records submitted are ordered, or
	// ctx ends.
	Close(ctx context.Context)
}

// A Room is what an engine orders records for: the server's room, which
// applies them to its State and sends its members what they did.
type Room interface {
	// Apply applies recs, a batch the engine ordered together, in order,
	// and sends the members here what they did. It appends the event of
	// each record to evs, and returns it.
	Apply(recs []Record, evs []Event) []Event
	// Reset makes s, which the engine built from records (see
	// State.Fresh), the room's state: records from then on are applied
	// to it.
	Reset(s *State)
	// Read calls f with the room's state. f must not keep s, change it or
	// call the room.
	Read(f func(s *State))
	// StopWaiting has every member here that waits for a record of its
	// own to be applied stop waiting, as if dropped: the engine reads the
	// room afresh, and will apply none of their records meanwhile.
	StopWaiting()
	// Fence tells the room whether the engine is cut off from the order
	// of records: while it is, the room serves no one, and as it begins,
	// it tells its clients to go.
	Fence(on bool)
	// Refuse tells the member of rec, a record of its own that the engine
	// cannot order (the stream refused it for good, say), why: the record
	// is never applied.
	Refuse(rec Record, err *ircish.Error)
	// Members returns how many members are here, or joining.
	Members() int
	// Closed returns a channel that is closed once the room takes no more
	// records but leaves: the server is shutting down.
	Closed() <-chan struct{}
}

// ErrSilenced is returned for a record of a member who may no longer be
// heard: dropped, or the server is shutting down or cut off.
var ErrSilenced = errors.New("ircish: dropped, or shutting down")
