package ircish

import (
	"cmp"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A room is the chat room as this server serves it: its state (state.go),
// which its engine (engine.go) changes one record at a time, and the
// members connected here, to whom it sends what each record did. Its lock
// orders what they are sent, so every member sees JOINED, LEFT, RENAMED
// and MSG lines in the order of the records. The lock is never held across
// I/O: handing a member lines is queueing them in its outbox, which never
// blocks.
//
// A broadcast line is written once, into pending, which all members
// share. The actor gets its share of pending at once, its own line
// included; the others get theirs a moment later (see handOutAll). So
// when many talk, or join, at once, each member is handed the lines of
// that moment as one slice: one queue entry and one write, however many
// lines it holds.
//
// All methods are safe to call from any goroutine.
type room struct {
	mu      sync.Mutex
	state   *state
	engine  engine
	node    string             // this server's in member ids: "" in process
	members []*member          // the members here, in no order
	local   map[uint64]*member // the members here, and those joining, by memberID.conn
	lastID  uint64
	closed  bool          // shutting down: no more joins or lines
	done    chan struct{} // closed with closed

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

	deliveries int64 // lines for members so far
}

// A member is a client of this server in the room, or joining it. Only
// the room reads or writes its fields, under its lock; the client's
// connection keeps a pointer to it to name itself in the room's methods.
type member struct {
	conn   uint64 // its memberID.conn
	out    *outbox
	seqs   bool // gets MSG lines with their seq, as HISTORY lines
	joined bool
	index  int     // in room.members
	handed int     // see room.pending
	wait   *waiter // in a cluster only
}

// A waiter is what a member in a cluster waits for: its records, which
// the room applies once the stream has them, not as they are made.
type waiter struct {
	sent uint64 // records the member made
	// verdict gets what became of the member's last join, rename or
	// whisper, once its record is applied.
	verdict chan verdict
	// unapplied counts the member's messages not applied yet, and caughtUp,
	// if not nil, is closed when none is left (see lockCaughtUp).
	unapplied int
	caughtUp  chan struct{}
}

// A verdict is what became of a member's record: the error it was
// refused with, or nil; n is the record's number in the member's count.
type verdict struct {
	n   uint64
	err error
}

// newRoom returns a room that keeps the last keep messages for HISTORY,
// in process: its own engine orders its records. Their seqs start at the
// time in microseconds, so that they go on growing across restarts unless
// a server said a million messages a second.
func newRoom(keep int) *room {
	r := &room{local: make(map[uint64]*member), done: make(chan struct{})}
	start := time.Now().UnixMicro()
	r.state = newState(newRing(keep, start-1))
	r.engine = &localEngine{r: r, seq: start - 1}
	return r
}

// join registers a client whose lines go to out under nick, tells
// everyone, the client included, and returns the new member. With seqs,
// the member gets MSG lines with their seqs (see seqsFor).
func (r *room) join(out *outbox, nick string, seqs bool) (*member, error) {
	if err := CheckNick(nick); err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, errShuttingDown
	}
	r.lastID++
	m := &member{conn: r.lastID, out: out, seqs: seqs}
	r.local[m.conn] = m
	r.mu.Unlock()
	if err := r.ask(m, record{op: opJoin, id: r.idOf(m), nick: nick}); err != nil {
		r.mu.Lock()
		r.forget(m) // a join that timed out may have been applied meanwhile
		r.mu.Unlock()
		if err == errNoAnswer || err == errSilenced { // the join may yet be applied: undo it then
			r.engine.submit(m, record{op: opLeave, id: r.idOf(m), text: reasonLost})
		}
		return nil, err
	}
	return m, nil
}

// rename changes m's nick and tells everyone. A case variant of m's own
// nick is allowed; the very same nick is a no-op.
func (r *room) rename(m *member, nick string) error {
	if err := CheckNick(nick); err != nil {
		return err
	}
	return r.ask(m, record{op: opRename, id: r.idOf(m), nick: nick})
}

// say sends text from m to everyone, m included.
func (r *room) say(m *member, text string) error {
	return r.engine.submit(m, record{op: opSay, id: r.idOf(m), text: text})
}

// whisper sends text from m to the member named to, and to m.
func (r *room) whisper(m *member, to, text string) error {
	return r.ask(m, record{op: opWhisper, id: r.idOf(m), nick: to, text: text})
}

// leave hands m what it has yet to be handed, removes it and tells
// everyone else, with reason.
func (r *room) leave(m *member, reason string) {
	r.mu.Lock()
	r.handOut(m)
	r.forget(m)
	r.mu.Unlock()
	r.engine.submit(m, record{op: opLeave, id: r.idOf(m), text: reason})
}

// ask submits rec from m and returns what became of it: at once in
// process, else once m has its verdict.
func (r *room) ask(m *member, rec record) error {
	if err := r.engine.submit(m, rec); err != nil || m.wait == nil {
		return err
	}
	r.mu.Lock()
	n := m.wait.sent // rec's: a member's client makes one record at a time
	r.mu.Unlock()
	timeout := time.After(askTimeout)
	for {
		select {
		case v := <-m.wait.verdict:
			// One on an earlier record, whose wait timed out, is no answer.
			if v.n == n {
				return v.err
			}
		case <-m.out.failed():
			return errSilenced
		case <-r.done:
			return errSilenced
		case <-timeout:
			return errNoAnswer
		}
	}
}

// askTimeout bounds the wait for a record to be applied, in a cluster
// whose NATS does not answer.
const askTimeout = 10 * time.Second

var errNoAnswer = errorf(CodeTimeout, "the room did not answer in time: try again")

// release has every member here that waits for a record of its own to be
// applied stop waiting, as if dropped: the server reads the room afresh
// (see cluster.rereader), and applies no record of theirs meanwhile.
func (r *room) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.local {
		if w := m.wait; w != nil {
			w.tell(verdict{w.sent, errSilenced})
			w.unapplied = 0
			if w.caughtUp != nil {
				close(w.caughtUp)
				w.caughtUp = nil
			}
		}
	}
}

// joiners returns how many members are here, or joining.
func (r *room) joiners() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.local)
}

// forget takes m out of the members here. The caller holds r.mu.
func (r *room) forget(m *member) {
	if r.local[m.conn] != m {
		return
	}
	delete(r.local, m.conn)
	if m.joined {
		last := r.members[len(r.members)-1]
		r.members[m.index], last.index = last, m.index
		r.members = r.members[:len(r.members)-1]
		if m.seqs {
			r.seqMembers--
		}
	}
}

// apply applies rec to the state, sends the members here what it did and
// returns it. The caller holds r.mu.
func (r *room) apply(rec record) event {
	ev := r.state.apply(rec)
	m := r.localMember(rec.id)
	switch ev.op {
	case opJoin:
		if m != nil {
			m.joined, m.index, m.handed = true, len(r.members), len(r.pending)
			if m.seqs {
				m.handed = len(r.pendingSeq)
				r.seqMembers++
			}
			r.members = append(r.members, m)
		}
		r.broadcast(m, presenceDelay(len(r.state.people)), Joined, ev.nick)
	case opRename:
		r.broadcast(m, presenceDelay(len(r.state.people)), Renamed, ev.nick, ev.arg)
	case opSay:
		r.schedule(msgDelay)
		r.pending = AppendLine(r.pending, Msg, ev.nick, ev.entry.text)
		if r.seqMembers > 0 {
			r.pendingSeq = appendHistoryLine(r.pendingSeq, ev.entry)
		}
		r.sent(m)
	case opWhisper:
		r.whispered(m, r.localMember(ev.to), Line(Whisper, ev.nick, ev.arg, rec.text))
	case opLeave:
		if m != nil { // left by another's record: a server gone, as seen from another
			m.out.drop(rec.text)
			r.forget(m)
		}
		r.broadcast(nil, presenceDelay(len(r.state.people)), Left, ev.nick, ev.arg)
	case opRefuse:
		if m != nil && m.joined {
			r.handOut(m)
			m.out.pushReply(ev.err.Line())
		}
	}
	if m == nil {
		return ev
	}
	switch rec.op {
	case opJoin, opRename, opWhisper:
		if m.wait != nil {
			m.wait.tell(verdict{rec.n, verdictOf(m, ev)})
		}
	case opSay:
		r.applied(m)
	}
	return ev
}

// idOf returns the member id of m, a member here.
func (r *room) idOf(m *member) memberID { return memberID{r.node, m.conn} }

// localMember returns the member here of id, or nil. The caller holds
// r.mu.
func (r *room) localMember(id memberID) *member {
	if id.node != r.node {
		return nil
	}
	return r.local[id.conn]
}

// verdictOf returns what ev, the event of a record of m's, is to m: the
// error it was refused with (sent already, if m is in the room), or nil.
func verdictOf(m *member, ev event) error {
	switch {
	case ev.op != opRefuse:
		return nil
	case m.joined:
		return sentError{ev.err}
	}
	return ev.err
}

// tell gives m the verdict on its last join, rename or whisper. One left
// untaken, after a timeout, is replaced.
func (w *waiter) tell(v verdict) {
	select {
	case <-w.verdict:
	default:
	}
	w.verdict <- v
}

// whispered sends a whisper line to its target and to its sender, if they
// are here. The caller holds r.mu.
func (r *room) whispered(from, to *member, line []byte) {
	if to != nil {
		r.handOut(to)
		r.deliveries++
		if to == from {
			to.out.pushReply(line)
			return
		}
		to.out.push(line)
	}
	if from != nil {
		r.handOut(from)
		from.out.pushReply(line)
		r.deliveries++
	}
}

// errSilenced is returned for a member that may no longer be heard.
var errSilenced = errors.New("ircish: dropped, or shutting down")

// silenced returns errSilenced if m may no longer be heard: it was
// dropped, or the room is closed. Asking under the lock puts a drop in the
// room's order: whatever m says after it, nobody hears. The caller holds
// r.mu.
func (r *room) silenced(m *member) error {
	if r.closed || m.out.err() != "" {
		return errSilenced
	}
	return nil
}

// nickOrder orders nicks case-insensitively, and nicks that differ only in
// case next to each other.
func nickOrder(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

// Lines to others wait a moment for company before they are handed out:
// when many clients talk, or join, at once, every member gets their lines
// a few at a time rather than one write each.
const msgDelay = 500 * time.Microsecond

// presenceDelay is how long JOINED, RENAMED and LEFT lines wait in a room
// of n members: 50 ms, and 50 ms more per 5,000 members up to 1 s, so that
// a join storm costs about 100,000 writes a second at most (n writes per
// delay) in rooms of up to 95,000.
func presenceDelay(n int) time.Duration {
	return min(time.Duration(1+n/5000)*50*time.Millisecond, time.Second)
}

// broadcast adds a line to pending for every member: actor, if not nil,
// is handed its share at once, the others theirs within delay (plus the
// time it takes to write to them all). The caller holds r.mu.
func (r *room) broadcast(actor *member, delay time.Duration, verb string, params ...string) {
	if r.closed { // shutting down: everyone here is told BYE instead
		return
	}
	r.schedule(delay)
	r.pending = AppendLine(r.pending, verb, params...)
	if r.seqMembers > 0 {
		r.pendingSeq = AppendLine(r.pendingSeq, verb, params...)
	}
	r.sent(actor)
}

// schedule makes sure pending is handed out within delay, before a line is
// added to it. The caller holds r.mu.
func (r *room) schedule(delay time.Duration) {
	if due := time.Now().Add(delay); len(r.pending) == 0 || due.Before(r.due) {
		r.due = due
		if r.timer == nil {
			r.timer = time.AfterFunc(delay, r.handOutAll)
		} else {
			r.timer.Reset(delay)
		}
	}
}

// sent counts a line added to pending for every member, and hands actor,
// if not nil, its share at once. The caller holds r.mu.
func (r *room) sent(actor *member) {
	r.deliveries += int64(len(r.members))
	if actor != nil {
		r.handOut(actor)
	}
}

// pendingOf returns the pending lines as m gets them. The caller holds
// r.mu.
func (r *room) pendingOf(m *member) []byte {
	if m.seqs {
		return r.pendingSeq
	}
	return r.pending
}

// handOut queues for member m the part of pending it has yet to be
// handed. The caller holds r.mu.
func (r *room) handOut(m *member) {
	p := r.pendingOf(m)
	if n := len(p); m.handed < n {
		m.out.push(p[m.handed:n:n])
		m.handed = n
	}
}

// seqsFor makes m get MSG lines with their seqs from now on, after what
// it has yet to be handed, and answers it HISTORY LIVE.
func (r *room) seqsFor(m *member) {
	r.lockCaughtUp(m)
	defer r.mu.Unlock()
	r.handOut(m)
	if !m.seqs {
		m.seqs, m.handed = true, len(r.pendingSeq)
		r.seqMembers++
	}
	m.out.pushReply(Line(History, HistoryLive))
}

// sendHistory sends m, in its place among the room's lines, the kept
// messages asked for: the last count, or, if after is not negative, the
// first count after seq after, after a HISTORY GAP line if some of those
// are no longer kept. It returns how many messages it sent.
func (r *room) sendHistory(m *member, after int64, count int) int {
	r.lockCaughtUp(m)
	defer r.mu.Unlock()
	h := &r.state.history
	var b []byte
	var from, to int
	if after < 0 {
		from, to = h.last(count)
	} else {
		var gap bool
		from, to, gap = h.after(after, count)
		if gap {
			b = AppendLine(b, History, HistoryGap, strconv.FormatInt(h.oldest(), 10))
		}
	}
	for i := from; i < to; i++ {
		b = appendHistoryLine(b, h.at(i))
	}
	r.handOut(m)
	m.out.pushReply(AppendLine(b, History, HistoryEnd, strconv.Itoa(to-from)))
	return to - from
}

// lockCaughtUp locks r.mu once the messages m said are applied (or m is
// dropped, or it takes too long), so that a reply to m comes after them:
// after a PONG, a client has seen its own messages.
func (r *room) lockCaughtUp(m *member) {
	r.mu.Lock()
	if m.wait == nil || m.wait.unapplied == 0 {
		return
	}
	ch := make(chan struct{})
	m.wait.caughtUp = ch
	r.mu.Unlock()
	select {
	case <-ch:
	case <-m.out.failed():
	case <-r.done:
	case <-time.After(askTimeout):
	}
	r.mu.Lock()
	m.wait.caughtUp = nil
}

// applied counts a message of m's as applied. The caller holds r.mu.
func (r *room) applied(m *member) {
	if w := m.wait; w != nil && w.unapplied > 0 {
		w.unapplied--
		if w.unapplied == 0 && w.caughtUp != nil {
			close(w.caughtUp)
			w.caughtUp = nil
		}
	}
}

// handOutAll hands every member its share of pending, starts pending
// afresh, and then writes the shares.
func (r *room) handOutAll() {
	r.mu.Lock()
	if r.closed { // close handed everything out
		r.mu.Unlock()
		return
	}
	r.flushing.Add(1)
	defer r.flushing.Done()
	outs := r.spare
	r.spare = nil
	for _, m := range r.members {
		p := r.pendingOf(m)
		if n := len(p); m.handed < n {
			m.out.hand(p[m.handed:n:n])
			outs = append(outs, m.out)
		}
		m.handed = 0
	}
	r.pending, r.pendingSeq = nil, nil
	r.mu.Unlock()
	flushAll(outs)
	clear(outs)
	r.mu.Lock()
	r.spare = outs[:0]
	r.mu.Unlock()
}

// flushAll flushes outs, flushChunk of them per goroutine: one goroutine
// writing to many sockets in turn costs less than a goroutine each, and
// a few of them use every core in a big room.
func flushAll(outs []*outbox) {
	var wg sync.WaitGroup
	for len(outs) > flushChunk {
		chunk := outs[:flushChunk]
		outs = outs[flushChunk:]
		wg.Go(func() {
			for _, o := range chunk {
				o.flush()
			}
		})
	}
	for _, o := range outs {
		o.flush()
	}
	wg.Wait()
}

const flushChunk = 256

// tell sends line to m alone, as a reply, after what m has yet to be
// handed of pending.
func (r *room) tell(m *member, line []byte) {
	r.lockCaughtUp(m)
	defer r.mu.Unlock()
	r.handOut(m)
	m.out.pushReply(line)
}

// list sends m the LIST line of everyone in the room, in its place among
// the room's lines, and returns how many are in it.
func (r *room) list(m *member) int {
	r.lockCaughtUp(m)
	defer r.mu.Unlock()
	people := r.state.people
	n := len(List) + 2
	for _, p := range people {
		n += 1 + len(p.nick)
	}
	line := append(make([]byte, 0, n), List...)
	for _, p := range people {
		line = append(append(line, ' '), p.nick...)
	}
	r.handOut(m)
	m.out.pushReply(append(line, '\r', '\n'))
	return len(people)
}

// stats returns the number of members here and of lines queued for them
// so far.
func (r *room) stats() (members int, deliveries int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members), r.deliveries
}

// close hands out what is pending and stops joins and lines, for
// shutdown. It returns once no hand-out is under way or due.
func (r *room) close() {
	r.mu.Lock()
	for _, m := range r.members {
		r.handOut(m)
	}
	if !r.closed {
		r.closed = true
		close(r.done)
	}
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.flushing.Wait()
}

func errNickInUse(nick string) *Error {
	return errorf(CodeNickInUse, "the nick "+nick+" is taken")
}
