package cluster

import (
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"ircish/ircish/room"
)

// A foldRun applies fake stream messages, one after another, to an
// engine's reading, as its consumer would, and says what the room holds.
type foldRun struct {
	t   *testing.T
	e   *Engine
	rd  *reading
	seq uint64
	at  time.Time
}

func newFoldRun(t *testing.T) *foldRun {
	e := &Engine{room: newTestRoom(10), log: slog.New(slog.DiscardHandler), id: "self", missed: make(chan struct{}, 1)}
	rd := &reading{state: room.NewState(10, 0), nodes: newNodes(), ready: make(chan struct{})}
	e.reading = rd
	e.endReading(rd, false) // whole: the room is rd's state from now on
	return &foldRun{t: t, e: e, rd: rd, at: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
}

// record stores rec, from its member's node, numbered count, after
// after.
func (f *foldRun) record(after time.Duration, count uint64, rec room.Record) {
	f.t.Helper()
	f.deliver(after, fakeMsg{data: appendRecord(nil, rec), node: rec.ID.Node, count: count})
}

// lease stores a lease of node after after.
func (f *foldRun) lease(after time.Duration, node string) {
	f.t.Helper()
	f.deliver(after, fakeMsg{subject: leaseSubject, data: appendLease(nil, node, int64(f.seq), node)})
}

func (f *foldRun) deliver(after time.Duration, m fakeMsg) {
	f.t.Helper()
	f.seq++
	f.at = f.at.Add(after)
	m.seq, m.at = f.seq, f.at
	f.e.receive(f.e.reading, m)
	if f.e.reading == nil {
		f.t.Fatalf("message %d: the reading was given up", f.seq)
	}
}

// people returns the room's nicks, in LIST's order.
func (f *foldRun) people() string {
	var nicks []string
	f.e.room.Read(func(s *room.State) {
		for _, p := range s.People() {
			nicks = append(nicks, p.Nick)
		}
	})
	return strings.Join(nicks, " ")
}

// said returns the messages the room keeps.
func (f *foldRun) said() string {
	var texts []string
	f.e.room.Read(func(s *room.State) {
		for i := range s.Messages().Len() {
			texts = append(texts, s.Messages().At(i).From+": "+s.Messages().At(i).Text)
		}
	})
	return strings.Join(texts, ", ")
}

// A copy of a server's message stored late, after later ones of that
// server, is ignored: a JOIN stored after the member's leave does not
// bring it back, and a SAY is not said twice.
func TestFoldIgnoresLateCopies(t *testing.T) {
	f := newFoldRun(t)
	xena := room.MemberID{Node: "n1", Num: 1}
	join := room.Record{Op: room.OpJoin, ID: xena, Made: 1, Nick: "xena"}
	say := room.Record{Op: room.OpSay, ID: xena, Made: 2, Text: "hi"}
	f.record(0, 1, join)
	f.record(0, 2, say)
	f.record(0, 3, room.Record{Op: room.OpLeave, ID: xena, Made: 3, Text: "bye"})
	f.record(0, 1, join) // a copy, stored after the window
	f.record(0, 2, say)
	if got := f.people(); got != "" {
		t.Errorf("after a copy of xena's JOIN stored after her leave, the room holds %q, want nobody", got)
	}
	if got := f.said(); got != "xena: hi" {
		t.Errorf("the room keeps %q, want xena's line once", got)
	}
}

// A reader that starts from a snapshot ignores a late copy as one that
// read every message does: the snapshot holds each server's count.
func TestFoldIgnoresLateCopiesFromASnapshot(t *testing.T) {
	f := newFoldRun(t)
	ann := room.MemberID{Node: "n1", Num: 1}
	f.record(0, 1, room.Record{Op: room.OpJoin, ID: ann, Made: 1, Nick: "ann"})
	say := room.Record{Op: room.OpSay, ID: ann, Made: 2, Text: "once"}
	f.record(0, 2, say)
	snap, _ := f.e.snapshotNow()
	data, err := json.Marshal(snap)
	check(t, err)

	fresh := newFoldRun(t)
	var read snapshot
	check(t, json.Unmarshal(data, &read))
	fresh.seq, fresh.at = f.seq, f.at
	fresh.e.lastApplied.Store(read.Seq)
	state, err := room.NewState(10, 0).Restore(read.Room)
	check(t, err)
	fresh.e.room.Reset(state)
	fresh.rd.nodes = read.Nodes
	fresh.record(0, 2, say) // a copy, stored late
	if got := fresh.said(); got != "ann: once" {
		t.Errorf("a reader from the snapshot keeps %q, want ann's line once", got)
	}
}

// A server is lost once the stream has taken others' messages for
// lostAfter without one of its own; a pause of the stream (no message at
// all) does not count. Its users leave, in the stream's order, and a
// message of its own brings the server back, though not its users.
func TestFoldLosesServersByTheStreamsTime(t *testing.T) {
	f := newFoldRun(t)
	ann, bob := room.MemberID{Node: "n1", Num: 1}, room.MemberID{Node: "n2", Num: 1}
	f.record(0, 1, room.Record{Op: room.OpJoin, ID: ann, Made: 1, Nick: "ann"})
	f.record(0, 1, room.Record{Op: room.OpJoin, ID: bob, Made: 1, Nick: "bob"})
	// The stream takes nothing for a minute (its leader moves), then the
	// leases of both again: nobody is lost.
	f.lease(time.Minute, "n1")
	f.lease(0, "n2")
	for range 3 {
		f.lease(time.Second, "n1")
		f.lease(0, "n2")
	}
	if got := f.people(); got != "ann bob" {
		t.Fatalf("after a pause, the room holds %q, want %q", got, "ann bob")
	}
	// n2 goes quiet while n1 goes on: n2 is lost after lostAfter.
	for range int(lostAfter / time.Second) {
		f.lease(time.Second, "n1")
	}
	if got := f.people(); got != "ann bob" {
		t.Fatalf("after %v without n2, the room holds %q, want %q", lostAfter, got, "ann bob")
	}
	f.lease(time.Second, "n1")
	if got := f.people(); got != "ann" {
		t.Fatalf("after more than %v without n2, the room holds %q, want %q", lostAfter, got, "ann")
	}
	f.lease(0, "n2")
	if n := f.rd.nodes.By["n2"]; n == nil || n.Lost || f.people() != "ann" {
		t.Errorf("after n2's lease: node %+v, room %q; want n2 back, and the room %q", n, f.people(), "ann")
	}
}

// A lost server is forgotten once no copy of its messages can come.
func TestFoldForgetsLostServers(t *testing.T) {
	f := newFoldRun(t)
	f.lease(0, "n1")
	f.lease(0, "n2")
	for elapsed := time.Duration(0); elapsed <= lostAfter+forgetAfter; elapsed += time.Second {
		f.lease(time.Second, "n1")
	}
	if got := slices.Sorted(maps.Keys(f.rd.nodes.By)); !slices.Equal(got, []string{"n1"}) {
		t.Errorf("the fold knows %q, want n1 alone", got)
	}
}

// Servers lost at the same message are lost in the order of their ids,
// on every server: their users' LEFT lines come in one order.
func TestFoldLosesServersInOrder(t *testing.T) {
	ns := newNodes()
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ns.tick(at)
	for _, id := range []string{"n3", "n1", "n2", "self"} {
		ns.heard(id, 0)
	}
	var lost []string
	for range int(lostAfter/time.Second) + 1 {
		at = at.Add(time.Second)
		lost = append(lost, ns.tick(at)...)
		ns.heard("self", 0)
	}
	if want := []string{"n1", "n2", "n3"}; !slices.Equal(lost, want) {
		t.Errorf("lost %q, want %q", lost, want)
	}
}
