package ircish

import (
	"slices"
	"time"
)

// The room's logic is a fold: its engine (engine.go) puts every record of
// what members do in one order, and every server applies the records in
// that order to a state, which decides what happens: who joins, which nick
// is taken, who hears what. apply does no I/O and reads no clock, so that
// servers that apply the same records agree on everything, and on what
// each client is sent.

// A record is one thing a member did, as the engine orders it.
type record struct {
	op   op
	id   memberID
	n    uint64    // the member's count of its own records; 0: not the member's
	nick string    // join, rename: the nick asked for; whisper: whom to
	text string    // say, whisper: the text; leave: the reason
	seq  int64     // given by the engine: a message's seq
	at   time.Time // given by the engine: when a message was ordered
}

// An op is what a record does; opRefuse is only an event's.
type op uint8

const (
	opNone op = iota
	opJoin
	opRename
	opSay
	opWhisper
	opLeave
	opRefuse
)

// A memberID names a member across servers: the server (node) it is on,
// "" for the in-process room, and its number there.
type memberID struct {
	node string
	conn uint64
}

// An event is what a record did, for the room to send: to everyone
// (join, rename, say, leave), to two members (whisper), or an error to the
// member who asked (refuse). An event with op opNone sends nothing: the
// record came from someone no longer here, or changed nothing.
type event struct {
	op    op
	id    memberID // the one who did it
	to    memberID // whisper: the one told
	nick  string   // the nick of the one who did it (before a rename)
	arg   string   // rename: the new nick; leave: the reason; whisper: the nick told
	entry entry    // say: the message as history keeps it
	err   *Error   // refuse
}

// A state is the room as the records so far make it.
type state struct {
	people  []*person // in LIST's order (see nickOrder)
	byNick  map[string]*person
	byID    map[memberID]*person
	history ring
}

// A person is a member as the state knows it.
type person struct {
	id   memberID
	nick string
	n    uint64 // the n of its last record applied
}

func newState(history ring) *state {
	return &state{byNick: make(map[string]*person), byID: make(map[memberID]*person), history: history}
}

// apply applies r and returns what it did.
func (s *state) apply(r record) event {
	p := s.byID[r.id]
	if p == nil && r.op != opJoin || p != nil && (r.op == opJoin || r.n != 0 && r.n <= p.n) {
		return event{id: r.id} // from someone gone, or a copy of a record applied
	}
	if p != nil && r.n != 0 {
		p.n = r.n
	}
	switch r.op {
	case opJoin:
		key := FoldNick(r.nick)
		if s.byNick[key] != nil {
			return event{op: opRefuse, id: r.id, err: errNickInUse(r.nick)}
		}
		p = &person{id: r.id, nick: r.nick, n: r.n}
		s.people = slices.Insert(s.people, s.place(r.nick), p)
		s.byNick[key], s.byID[r.id] = p, p
		return event{op: opJoin, id: r.id, nick: r.nick}
	case opRename:
		if r.nick == p.nick {
			return event{id: r.id}
		}
		key := FoldNick(r.nick)
		if other := s.byNick[key]; other != nil && other != p {
			return event{op: opRefuse, id: r.id, err: errNickInUse(r.nick)}
		}
		s.remove(p)
		old := p.nick
		p.nick = r.nick
		s.people = slices.Insert(s.people, s.place(r.nick), p)
		s.byNick[key], s.byID[r.id] = p, p
		return event{op: opRename, id: r.id, nick: old, arg: r.nick}
	case opSay:
		e := s.history.add(r.seq, p.nick, r.text, r.at)
		return event{op: opSay, id: r.id, nick: p.nick, entry: e}
	case opWhisper:
		to := s.byNick[FoldNick(r.nick)]
		if to == nil {
			return event{op: opRefuse, id: r.id, err: errorf(CodeNoSuchUser, "no user named "+r.nick+" is here")}
		}
		return event{op: opWhisper, id: r.id, to: to.id, nick: p.nick, arg: to.nick}
	case opLeave:
		s.remove(p)
		return event{op: opLeave, id: r.id, nick: p.nick, arg: r.text}
	}
	return event{id: r.id}
}

// remove takes p out of the state.
func (s *state) remove(p *person) {
	i := s.place(p.nick)
	s.people = slices.Delete(s.people, i, i+1)
	delete(s.byNick, FoldNick(p.nick))
	delete(s.byID, p.id)
}

// place returns where nick is, or would be, in people.
func (s *state) place(nick string) int {
	i, _ := slices.BinarySearchFunc(s.people, nick, func(p *person, nick string) int {
		return nickOrder(p.nick, nick)
	})
	return i
}
