package server

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"ircish/ircish"
	"ircish/ircish/room"
)

// A hub is the chat room as this server serves it: the members connected
// here, and the room's state (room.State), which its engine (room.Engine)
// has it change one record at a time; it sends the members what each
// record did. It is the engine's room.Room. Its lock orders what
// members are sent, so every member sees JOINED, LEFT, RENAMED and MSG
// lines in the order of the records. The lock is never held across I/O,
// nor while the room calls its engine: handing a member lines is queueing
// them in its outbox, which never blocks.
//
// A broadcast line is written once, into pending, which all members
// share. The actor gets its share of pending at once, its own line
// included; the others get theirs a moment later (see handOutAll). So
// when many talk, or join, at once, each member is handed the lines of
// that moment as one slice: one queue entry and one write, however many
// lines it holds.
//
// All methods are safe to call from any goroutine.
type hub struct {
	// engine orders the records, if the server was given one (see
	// Server.UseEngine). If nil, the hub is its own engine: records are
	// ordered by its lock, and applied as they are submitted.
	engine room.Engine
	node   string // this server's in member ids: "" in process
	fenced atomic.Bool
	fence  func() // tells every client here to go, as a fence begins

	mu      sync.Mutex
	state   *room.State
	members []*member          // the members here, in no order
	local   map[uint64]*member // the members here, and those joining, by MemberID.Num
	lastNum uint64
	closed  bool          // shutting down: no more joins or lines
	done    chan struct{} // closed with closed
	seq     int64         // of the last message, in process
	archive room.Archive  // keeps a copy of the messages; nil: none (see Server.UseArchive)

	// pending holds the lines said since they were last handed out, and
	// pending[:m.handed] is what member m was handed of them or said
	// before it joined. Handed-out bytes are never written again, so
	// pending starts afresh after each hand-out rather than being reused.
	pending []byte
	// pendingSeq is pending as members that asked for seqs get it: MSG
	// lines as HISTORY lines. It is kept only while there are any.
	pendingSeq []byte
	seqMembers int
	due        time.Time      // when pending is to be handed out
	timer      *time.Timer    // calls handOutAll
	flushing   sync.WaitGroup // handOutAll's writes under way
	spare      []*outbox      // for handOutAll to reuse

	deliveries int64  // lines for members so far
	meter      *meter // counts what hand-outs write; nil: nothing
}

// A member is a client of this server in the room, or joining it. Only
// the hub reads or writes its fields, under its lock; the client's
// connection keeps a pointer to it to name itself in the room's methods.
type member struct {
	num    uint64 // its MemberID.Num
	out    *outbox
	seqs   bool // gets MSG lines with their seq, as HISTORY lines
	joined bool
	index  int // in hub.members
	handed int // see hub.pending

	made uint64  // the records the member made (see room.Record.Made)
	wait *waiter // made with its first record given an engine
}

// A waiter is what a member waits for while its records go through an
// engine, to be applied once it has ordered them (in a cluster, once the
// stream has them): in process, records are applied as they are made,
// and a member has no waiter, which keeps an idle member small.
type waiter struct {
	// verdict is what became of the member's last join, rename or
	// whisper applied, and answered, if not nil, is closed when the next
	// one comes (see ask).
	verdict  verdict
	answered chan struct{}
	// unapplied counts the member's messages not applied yet, and
	// caughtUp, if not nil, is closed when none is left (see
	// lockCaughtUp).
	unapplied int
	caughtUp  chan struct{}
}

// waiter returns m's waiter, made if need be. The caller holds h.mu.
func (m *member) waiter() *waiter {
	if m.wait == nil {
		m.wait = &waiter{}
	}
	return m.wait
}

// A verdict is what became of a member's record: the error it was
// refused with, or nil; made is the record's Made.
type verdict struct {
	made uint64
	err  error
}

// newHub returns a room, in process, that keeps the last keep messages
// for HISTORY. It starts its seqs at the time in microseconds, so that
// they go on growing across restarts unless a server said a million
// messages a second.
func newHub(keep int, fence func()) *hub {
	h := &hub{local: make(map[uint64]*member), done: make(chan struct{}), fence: fence}
	h.seq = time.Now().UnixMicro() - 1
	h.state = room.NewState(keep, h.seq)
	return h
}

// join registers a client whose lines go to out under nick, tells
// everyone, the client included, and returns the new member. auth is the
// hash of nick's account that the client's password matched, if it is
// registered (see room.OpRegister); addr is the client's IP address,
// which bans may keep out. With seqs, the member gets MSG lines
// with their seqs (see seqsFor).
func (h *hub) join(out *outbox, nick, auth, addr string, seqs bool) (*member, error) {
	if err := ircish.CheckNick(nick); err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errShuttingDown
	}
	h.lastNum++
	m := &member{num: h.lastNum, out: out, seqs: seqs}
	h.local[m.num] = m
	h.mu.Unlock()
	if err := h.ask(m, room.Record{Op: room.OpJoin, ID: h.idOf(m), Nick: nick, Text: auth, Addr: addr}); err != nil {
		h.mu.Lock()
		h.removeMember(m) // a join that timed out may have been applied meanwhile
		h.mu.Unlock()
		if err == errNoAnswer || err == room.ErrSilenced { // the join may yet be applied: undo it then
			h.submit(m, room.Record{Op: room.OpLeave, ID: h.idOf(m), Text: reasonLost})
		}
		return nil, err
	}
	return m, nil
}

// rename changes m's nick and tells everyone. A case variant of m's own
// nick is allowed; the very same nick is a no-op. auth is as for join.
func (h *hub) rename(m *member, nick, auth string) error {
	if err := ircish.CheckNick(nick); err != nil {
		return err
	}
	return h.ask(m, room.Record{Op: room.OpRename, ID: h.idOf(m), Nick: nick, Text: auth})
}

// say sends text from m to everyone, m included.
func (h *hub) say(m *member, text string) error {
	_, err := h.submit(m, room.Record{Op: room.OpSay, ID: h.idOf(m), Text: text})
	return err
}

// whisper sends text from m to the member named to, and to m.
func (h *hub) whisper(m *member, to, text string) error {
	return h.ask(m, room.Record{Op: room.OpWhisper, ID: h.idOf(m), Nick: to, Text: text})
}

// leave hands m what it has yet to be handed, removes it and tells
// everyone else, with reason.
func (h *hub) leave(m *member, reason string) {
	h.mu.Lock()
	h.handOut(m)
	h.removeMember(m)
	h.mu.Unlock()
	h.submit(m, room.Record{Op: room.OpLeave, ID: h.idOf(m), Text: reason})
}

// submit numbers rec, which m made, in m's count and submits it to the
// engine, unless m may no longer be heard (see silenced); it returns
// rec's number. In process, it applies rec at once, under the one lock
// that orders the records, as every line said takes this path, and
// returns what became of it (see verdictOf). It is never called under
// h.mu: an engine may apply rec at once.
func (h *hub) submit(m *member, rec room.Record) (uint64, error) {
	h.mu.Lock()
	if rec.Op != room.OpLeave {
		if err := h.silenced(m); err != nil {
			h.mu.Unlock()
			return 0, err
		}
	}
	m.made++
	rec.Made = m.made
	if h.engine == nil {
		rec.At = time.Now()
		if rec.Op == room.OpSay {
			h.seq++
			rec.Seq = h.seq
		}
		ev := h.apply(rec)
		h.mu.Unlock()
		if rec.Op == room.OpLeave {
			return rec.Made, nil
		}
		return rec.Made, verdictOf(m, ev)
	}
	if w := m.waiter(); rec.Op == room.OpSay {
		w.unapplied++
	}
	h.mu.Unlock()
	err := h.engine.Submit(rec)
	if err != nil && rec.Op == room.OpSay {
		h.mu.Lock()
		h.sayApplied(m) // never will be
		h.mu.Unlock()
	}
	return rec.Made, err
}

// ask submits rec from m and returns what became of it, once it is
// applied: at once in process, where submit says.
func (h *hub) ask(m *member, rec room.Record) error {
	made, err := h.submit(m, rec)
	if err != nil {
		return err
	}
	var timeout <-chan time.Time
	h.mu.Lock()
	defer h.mu.Unlock()
	w := m.wait
	if w == nil { // in process: applied, and nil is its verdict
		return nil
	}
	// One on an earlier record, whose wait timed out, is no answer.
	for w.verdict.made != made {
		if timeout == nil {
			timeout = time.After(askTimeout)
		}
		if w.answered == nil {
			w.answered = make(chan struct{})
		}
		answered := w.answered
		h.mu.Unlock()
		select {
		case <-answered:
		case <-m.out.failed():
			err = room.ErrSilenced
		case <-h.done:
			err = room.ErrSilenced
		case <-timeout:
			err = errNoAnswer
		}
		h.mu.Lock()
		if err != nil {
			return err
		}
	}
	return w.verdict.err
}

// answer gives m the verdict on its last join, rename or whisper, if it
// waits for it (see waiter). The caller holds h.mu.
func (h *hub) answer(m *member, v verdict) {
	w := m.wait
	if w == nil {
		return
	}
	w.verdict = v
	if w.answered != nil {
		close(w.answered)
		w.answered = nil
	}
}

// askTimeout bounds the wait for a record to be applied, in a cluster
// whose NATS does not answer.
const askTimeout = 10 * time.Second

var errNoAnswer = ircish.NewError(ircish.CodeTimeout, "the room did not answer in time: try again")

// StopWaiting has every member here that waits for a record of its own
// to be applied stop waiting, as if dropped: see room.Room.
func (h *hub) StopWaiting() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.local {
		h.answer(m, verdict{m.made, room.ErrSilenced})
		if w := m.wait; w != nil {
			w.unapplied = 0
			if w.caughtUp != nil {
				close(w.caughtUp)
				w.caughtUp = nil
			}
		}
	}
}

// Refuse tells the member of rec that rec will never be applied, and why:
// see room.Room.
func (h *hub) Refuse(rec room.Record, err *ircish.Error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.localMember(rec.ID)
	if m == nil {
		return
	}
	switch rec.Op {
	case room.OpSay:
		h.handOut(m)
		m.out.pushReply(err.Line())
		h.sayApplied(m)
	case room.OpJoin, room.OpRename, room.OpWhisper:
		h.answer(m, verdict{rec.Made, err}) // the member's client says it
	}
}

// Members returns how many members are here, or joining.
func (h *hub) Members() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.local)
}

// Closed returns a channel closed once the room is: see room.Room.
func (h *hub) Closed() <-chan struct{} { return h.done }

// Fence turns the fence on or off: see room.Room.
func (h *hub) Fence(on bool) {
	if h.fenced.Swap(on) != on && on {
		h.fence()
	}
}

// Read calls f with the room's state: see room.Room.
func (h *hub) Read(f func(s *room.State)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f(h.state)
}

// Reset makes s the room's state: see room.Room.
func (h *hub) Reset(s *room.State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.state = s
	if h.archive != nil {
		g := s.Messages()
		kept := make([]room.Entry, g.Len())
		for i := range kept {
			kept[i] = g.At(i)
		}
		h.archive.Reset(kept)
	}
}

// removeMember takes m out of the members here. The caller holds h.mu.
func (h *hub) removeMember(m *member) {
	if h.local[m.num] != m {
		return
	}
	delete(h.local, m.num)
	if m.joined {
		last := h.members[len(h.members)-1]
		h.members[m.index], last.index = last, m.index
		h.members = h.members[:len(h.members)-1]
		if m.seqs {
			h.seqMembers--
		}
	}
}

// Apply applies recs to the state and sends the members here what they
// did: see room.Room.
func (h *hub) Apply(recs []room.Record, evs []room.Event) []room.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(recs) > 1 && len(h.members) > 0 {
		// Room for the lines these records make, which are about as
		// long: grown once rather than line by line.
		n := 0
		for _, rec := range recs {
			n += len(rec.Text) + len(rec.Nick) + 16
		}
		h.pending = slices.Grow(h.pending, n)
	}
	for _, rec := range recs {
		evs = append(evs, h.apply(rec))
	}
	return evs
}

// apply applies rec to the state, sends the members here what it did and
// returns it. The caller holds h.mu.
func (h *hub) apply(rec room.Record) room.Event {
	ev := h.state.Apply(rec)
	m := h.localMember(rec.ID)
	n := len(h.state.People())
	switch ev.Op {
	case room.OpJoin:
		if m != nil {
			m.joined, m.index, m.handed = true, len(h.members), len(h.pending)
			if m.seqs {
				m.handed = len(h.pendingSeq)
				h.seqMembers++
			}
			h.members = append(h.members, m)
		}
		h.broadcast(m, presenceDelay(n), ircish.Joined, ev.Nick)
	case room.OpRename:
		h.broadcast(m, presenceDelay(n), ircish.Renamed, ev.Nick, ev.Arg)
	case room.OpSay:
		h.schedule(msgDelay)
		h.pending = ircish.AppendLine(h.pending, ircish.Msg, ev.Nick, ev.Entry.Text)
		if h.archive != nil {
			h.archive.Add(ev.Entry)
		}
		if h.seqMembers > 0 {
			e := ev.Entry
			h.pendingSeq = ircish.AppendHistory(h.pendingSeq, e.Seq, e.At, e.From, e.Text)
		}
		h.delivered(m)
	case room.OpWhisper:
		h.whispered(m, h.localMember(ev.To), ircish.Line(ircish.Whisper, ev.Nick, ev.Arg, rec.Text))
	case room.OpLeave:
		if m != nil { // left by another's record: a server gone, as seen from another
			m.out.drop(rec.Text)
			h.removeMember(m)
		}
		h.broadcast(nil, presenceDelay(n), ircish.Left, ev.Nick, ev.Arg)
	case room.OpRegister, room.OpPassword, room.OpUnregister:
		h.accountChanged(m, ev)
	case room.OpKick, room.OpBan, room.OpUnban, room.OpMute, room.OpUnmute:
		h.moderated(m, ev)
	case room.OpRefuse:
		if m != nil && m.joined {
			h.handOut(m)
			m.out.pushReply(ev.Err.Line())
		}
	}
	if m == nil {
		return ev
	}
	switch rec.Op {
	case room.OpJoin, room.OpRename, room.OpWhisper, room.OpRegister, room.OpPassword, room.OpUnregister,
		room.OpKick, room.OpBan, room.OpUnban, room.OpMute, room.OpUnmute:
		h.answer(m, verdict{rec.Made, verdictOf(m, ev)})
	case room.OpSay:
		h.sayApplied(m)
	}
	return ev
}

// idOf returns the member id of m, a member here.
func (h *hub) idOf(m *member) room.MemberID { return room.MemberID{Node: h.node, Num: m.num} }

// localMember returns the member here of id, or nil. The caller holds
// h.mu.
func (h *hub) localMember(id room.MemberID) *member {
	if id.Node != h.node {
		return nil
	}
	return h.local[id.Num]
}

// verdictOf returns what ev, the event of a record of m's, is to m: the
// error it was refused with (sent already, if m is in the room), or nil.
func verdictOf(m *member, ev room.Event) error {
	switch {
	case ev.Op != room.OpRefuse:
		return nil
	case m.joined:
		return sentError{ev.Err}
	}
	return ev.Err
}

// whispered sends a whisper line to its target and to its sender, if they
// are here. The caller holds h.mu.
func (h *hub) whispered(from, to *member, line []byte) {
	if to != nil {
		h.handOut(to)
		h.deliveries++
		if to == from {
			to.out.pushReply(line)
			return
		}
		to.out.push(line)
	}
	if from != nil {
		h.handOut(from)
		from.out.pushReply(line)
		h.deliveries++
	}
}

// silenced returns room.ErrSilenced if m may no longer be heard: it was
// dropped, or the room is closed. Asking under the lock puts a drop in the
// room's order: whatever m says after it, nobody hears. The caller holds
// h.mu.
func (h *hub) silenced(m *member) error {
	if h.closed || m.out.err() != "" {
		return room.ErrSilenced
	}
	return nil
}

// lockCaughtUp locks h.mu once the messages m said are applied (or m is
// dropped, or it takes too long), so that a reply to m comes after them:
// after a PONG, a client has seen its own messages.
func (h *hub) lockCaughtUp(m *member) {
	h.mu.Lock()
	w := m.wait
	if w == nil || w.unapplied == 0 {
		return
	}
	ch := make(chan struct{})
	w.caughtUp = ch
	h.mu.Unlock()
	select {
	case <-ch:
	case <-m.out.failed():
	case <-h.done:
	case <-time.After(askTimeout):
	}
	h.mu.Lock()
	w.caughtUp = nil
}

// sayApplied counts a message of m's as applied. The caller holds h.mu.
func (h *hub) sayApplied(m *member) {
	if w := m.wait; w != nil && w.unapplied > 0 {
		w.unapplied--
		if w.unapplied == 0 && w.caughtUp != nil {
			close(w.caughtUp)
			w.caughtUp = nil
		}
	}
}

// reply sends line to m alone, as a reply, after what m has yet to be
// handed of pending.
func (h *hub) reply(m *member, line []byte) {
	h.lockCaughtUp(m)
	defer h.mu.Unlock()
	h.handOut(m)
	m.out.pushReply(line)
}

// list sends m the LIST line of everyone in the room, in its place among
// the room's lines, and returns how many are in it.
func (h *hub) list(m *member) int {
	h.lockCaughtUp(m)
	defer h.mu.Unlock()
	people := h.state.People()
	n := len(ircish.List) + 2
	for _, p := range people {
		n += 1 + len(p.Nick)
	}
	line := append(make([]byte, 0, n), ircish.List...)
	for _, p := range people {
		line = append(append(line, ' '), p.Nick...)
	}
	h.handOut(m)
	m.out.pushReply(append(line, '\r', '\n'))
	return len(people)
}

// close hands out what is pending and stops joins and lines, for
// shutdown. It returns once no hand-out is under way or due.
func (h *hub) close() {
	h.mu.Lock()
	for _, m := range h.members {
		h.handOut(m)
	}
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	h.flushing.Wait()
}
