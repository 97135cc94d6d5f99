package ircish

import (
	"cmp"
	"slices"
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
	members []*conn          // in LIST's order (see nickOrder)
	byNick  map[string]*conn // by FoldNick(nick)
	closed  bool             // shutting down: no more joins or lines

	// pending holds the lines said since they were last handed out, and
	// pending[:m.handed] is what member m was handed of them or said
	// before it joined. Handed-out bytes are never written again, so
	// pending starts afresh after each hand-out rather than being reused.
	pending  []byte
	due      time.Time      // when pending is to be handed out
	timer    *time.Timer    // calls handOutAll
	flushing sync.WaitGroup // handOutAll's writes under way
	spare    []*outbox      // for handOutAll to reuse

	deliveries int64 // lines for members so far
}

func newRoom() *room {
	return &room{byNick: make(map[string]*conn)}
}

// join registers c under nick and tells everyone, c included.
func (r *room) join(c *conn, nick string) error {
	if err := CheckNick(nick); err != nil {
		return err
	}
	key := FoldNick(nick)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errShuttingDown
	}
	if _, taken := r.byNick[key]; taken {
		return errNickInUse(nick)
	}
	c.nick, c.key = nick, key
	c.handed = len(r.pending)
	r.members = slices.Insert(r.members, r.place(nick), c)
	r.byNick[key] = c
	r.broadcast(c, presenceDelay(len(r.members)), Joined, nick)
	return nil
}

// rename changes c's nick and tells everyone. A case variant of c's own nick
// is allowed; the very same nick is a no-op.
func (r *room) rename(c *conn, nick string) error {
	if err := CheckNick(nick); err != nil {
		return err
	}
	key := FoldNick(nick)
	r.mu.Lock()
	defer r.mu.Unlock()
	if nick == c.nick || r.silenced(c) {
		return nil
	}
	if other, taken := r.byNick[key]; taken && other != c {
		return r.refuse(c, errNickInUse(nick))
	}
	delete(r.byNick, c.key)
	r.byNick[key] = c
	i := r.place(c.nick)
	r.members = slices.Delete(r.members, i, i+1)
	r.members = slices.Insert(r.members, r.place(nick), c)
	r.broadcast(c, presenceDelay(len(r.members)), Renamed, c.nick, nick)
	c.nick, c.key = nick, key
	return nil
}

// leave hands c what it has yet to be handed, removes it and tells
// everyone else, with reason.
func (r *room) leave(c *conn, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handOut(c)
	i := r.place(c.nick)
	r.members = slices.Delete(r.members, i, i+1)
	delete(r.byNick, c.key)
	if !r.closed {
		r.broadcast(nil, presenceDelay(len(r.members)), Left, c.nick, reason)
	}
}

// say sends text from c to everyone, c included.
func (r *room) say(c *conn, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.silenced(c) {
		r.broadcast(c, msgDelay, Msg, c.nick, text)
	}
}

// silenced reports whether c may no longer be heard: it was dropped, or
// the room is closed. Asking under the lock puts a drop in the room's
// order: whatever c says after it, nobody hears. The caller holds r.mu.
func (r *room) silenced(c *conn) bool {
	return r.closed || c.out.err() != ""
}

// refuse sends c the ERR line of err in its place among the room's lines,
// after what c has yet to be handed, and returns err as sent: an answer
// taken from the room's state comes before any line that changes it. The
// caller holds r.mu.
func (r *room) refuse(c *conn, err *Error) error {
	r.handOut(c)
	c.out.pushReply(err.Line())
	return sentError{err}
}

// place returns where nick is, or would be, in members. The caller holds
// r.mu.
func (r *room) place(nick string) int {
	i, _ := slices.BinarySearchFunc(r.members, nick, func(m *conn, nick string) int {
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
func (r *room) broadcast(actor *conn, delay time.Duration, verb string, params ...string) {
	if due := time.Now().Add(delay); len(r.pending) == 0 || due.Before(r.due) {
		r.due = due
		if r.timer == nil {
			r.timer = time.AfterFunc(delay, r.handOutAll)
		} else {
			r.timer.Reset(delay)
		}
	}
	r.pending = AppendLine(r.pending, verb, params...)
	r.deliveries += int64(len(r.members))
	if actor != nil {
		r.handOut(actor)
	}
}

// handOut queues for member m the part of pending it has yet to be
// handed. The caller holds r.mu.
func (r *room) handOut(m *conn) {
	if n := len(r.pending); m.handed < n {
		m.out.push(r.pending[m.handed:n:n])
		m.handed = n
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
		if n := len(r.pending); m.handed < n {
			m.out.hand(r.pending[m.handed:n:n])
			outs = append(outs, m.out)
		}
		m.handed = 0
	}
	r.pending = nil
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

// tell sends line to c alone, as a reply, after what c has yet to be
// handed of pending if it is a member.
func (r *room) tell(c *conn, line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byNick[c.key] == c {
		r.handOut(c)
	}
	c.out.pushReply(line)
}

// whisper sends text from c to the member named to, and to c.
func (r *room) whisper(c *conn, to, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.silenced(c) {
		return nil
	}
	target, ok := r.byNick[FoldNick(to)]
	if !ok {
		return r.refuse(c, errorf(CodeNoSuchUser, "no user named "+to+" is here"))
	}
	line := Line(Whisper, c.nick, target.nick, text)
	r.handOut(target)
	r.deliveries++
	if target == c {
		c.out.pushReply(line)
		return nil
	}
	target.out.push(line)
	r.handOut(c)
	c.out.pushReply(line)
	r.deliveries++
	return nil
}

// list sends c, a member, the LIST line of everyone here, in its place
// among the room's lines, and returns how many are here.
func (r *room) list(c *conn) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(List) + 2
	for _, m := range r.members {
		n += 1 + len(m.nick)
	}
	line := append(make([]byte, 0, n), List...)
	for _, m := range r.members {
		line = append(append(line, ' '), m.nick...)
	}
	r.handOut(c)
	c.out.pushReply(append(line, '\r', '\n'))
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
