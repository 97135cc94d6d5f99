package ircish

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A room is the set of registered clients, by nick. Its lock orders all
// broadcasts, so every member sees JOINED, LEFT, RENAMED and MSG lines in
// one and the same order. The lock is never held across I/O: handing a
// member lines is queueing them in its outbox, which never blocks.
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
	members []*member          // in LIST's order (see nickOrder)
	byNick  map[string]*member // by FoldNick(nick)
	closed  bool               // shutting down: no more joins or lines

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
	history    ring  // the last messages said
}

// A member is a registered client as the room knows it. Only the room
// reads or writes its fields, under its lock; the client's connection
// keeps a pointer to it to name itself in the room's methods.
type member struct {
	out    *outbox
	nick   string
	key    string // FoldNick(nick)
	seqs   bool   // gets MSG lines with their seq, as HISTORY lines
	handed int    // see room.pending
}

// newRoom returns a room that keeps the last keep messages for HISTORY.
// Their seqs start at the time in microseconds, so that they go on growing
// across restarts unless a server said a million messages a second.
func newRoom(keep int) *room {
	return &room{byNick: make(map[string]*member), history: newRing(keep, time.Now().UnixMicro())}
}

// join registers a client whose lines go to out under nick, tells
// everyone, the client included, and returns the new member. With seqs,
// the member gets MSG lines with their seqs (see seqsFor).
func (r *room) join(out *outbox, nick string, seqs bool) (*member, error) {
	if err := CheckNick(nick); err != nil {
		return nil, err
	}
	key := FoldNick(nick)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errShuttingDown
	}
	if _, taken := r.byNick[key]; taken {
		return nil, errNickInUse(nick)
	}
	m := &member{out: out, nick: nick, key: key, handed: len(r.pending)}
	if seqs {
		m.seqs, m.handed = true, len(r.pendingSeq)
		r.seqMembers++
	}
	r.members = slices.Insert(r.members, r.place(nick), m)
	r.byNick[key] = m
	r.broadcast(m, presenceDelay(len(r.members)), Joined, nick)
	return m, nil
}

// rename changes m's nick and tells everyone. A case variant of m's own
// nick is allowed; the very same nick is a no-op.
func (r *room) rename(m *member, nick string) error {
	if err := CheckNick(nick); err != nil {
		return err
	}
	key := FoldNick(nick)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.silenced(m); err != nil {
		return err
	}
	if nick == m.nick {
		return nil
	}
	if other, taken := r.byNick[key]; taken && other != m {
		return r.refuse(m, errNickInUse(nick))
	}
	delete(r.byNick, m.key)
	r.byNick[key] = m
	i := r.place(m.nick)
	r.members = slices.Delete(r.members, i, i+1)
	r.members = slices.Insert(r.members, r.place(nick), m)
	r.broadcast(m, presenceDelay(len(r.members)), Renamed, m.nick, nick)
	m.nick, m.key = nick, key
	return nil
}

// leave hands m what it has yet to be handed, removes it and tells
// everyone else, with reason.
func (r *room) leave(m *member, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handOut(m)
	i := r.place(m.nick)
	r.members = slices.Delete(r.members, i, i+1)
	delete(r.byNick, m.key)
	if m.seqs {
		r.seqMembers--
	}
	if !r.closed {
		r.broadcast(nil, presenceDelay(len(r.members)), Left, m.nick, reason)
	}
}

// say sends text from m to everyone, m included.
func (r *room) say(m *member, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.silenced(m); err != nil {
		return err
	}
	e := r.history.add(m.nick, text, time.Now())
	r.schedule(msgDelay)
	r.pending = AppendLine(r.pending, Msg, m.nick, text)
	if r.seqMembers > 0 {
		r.pendingSeq = appendHistoryLine(r.pendingSeq, e)
	}
	r.sent(m)
	return nil
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

// refuse sends m the ERR line of err in its place among the room's lines,
// after what m has yet to be handed, and returns err as sent: an answer
// taken from the room's state comes before any line that changes it. The
// caller holds r.mu.
func (r *room) refuse(m *member, err *Error) error {
	r.handOut(m)
	m.out.pushReply(err.Line())
	return sentError{err}
}

// place returns where nick is, or would be, in members. The caller holds
// r.mu.
func (r *room) place(nick string) int {
	i, _ := slices.BinarySearchFunc(r.members, nick, func(m *member, nick string) int {
		return nickOrder(m.nick, nick)
	})
	return i
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
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handOut(m)
	if !m.seqs {
		m.seqs, m.handed = true, len(r.pendingSeq)
		r.seqMembers++
	}
	m.out.pushReply(Line(History, historyLive))
}

// sendHistory sends m, in its place among the room's lines, the kept
// messages asked for: the last count, or, if after is not negative, the
// first count after seq after, after a HISTORY GAP line if some of those
// are no longer kept. It returns how many messages it sent.
func (r *room) sendHistory(m *member, after int64, count int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b []byte
	var from, to int
	if after < 0 {
		from, to = r.history.last(count)
	} else {
		from, to = r.history.after(after, count)
		if oldest := r.history.oldest(); after < oldest-1 {
			b = AppendLine(b, History, historyGap, strconv.FormatInt(oldest, 10))
		}
	}
	for i := from; i < to; i++ {
		b = appendHistoryLine(b, r.history.at(i))
	}
	r.handOut(m)
	m.out.pushReply(AppendLine(b, History, historyEnd, strconv.Itoa(to-from)))
	return to - from
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
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handOut(m)
	m.out.pushReply(line)
}

// whisper sends text from m to the member named to, and to m.
func (r *room) whisper(m *member, to, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.silenced(m); err != nil {
		return err
	}
	target, ok := r.byNick[FoldNick(to)]
	if !ok {
		return r.refuse(m, errorf(CodeNoSuchUser, "no user named "+to+" is here"))
	}
	line := Line(Whisper, m.nick, target.nick, text)
	r.handOut(target)
	r.deliveries++
	if target == m {
		m.out.pushReply(line)
		return nil
	}
	target.out.push(line)
	r.handOut(m)
	m.out.pushReply(line)
	r.deliveries++
	return nil
}

// list sends m the LIST line of everyone here, in its place among the
// room's lines, and returns how many are here.
func (r *room) list(m *member) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(List) + 2
	for _, other := range r.members {
		n += 1 + len(other.nick)
	}
	line := append(make([]byte, 0, n), List...)
	for _, other := range r.members {
		line = append(append(line, ' '), other.nick...)
	}
	r.handOut(m)
	m.out.pushReply(append(line, '\r', '\n'))
	return len(r.members)
}

// stats returns the number of members and of lines queued for them so far.
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
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.flushing.Wait()
}

func errNickInUse(nick string) *Error {
	return errorf(CodeNickInUse, "the nick "+nick+" is taken")
}
