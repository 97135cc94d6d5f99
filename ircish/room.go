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
	members []*conn          // in no particular order; a client knows its index
	byNick  map[string]*conn // by FoldNick(nick)
	closed  bool             // shutting down: no more joins or LEFT lines

	// pending holds the lines said since they were last handed out, and
	// pending[:m.handed] is what member m was handed of them or said
	// before it joined. Handed-out bytes are never written again, so
	// pending starts afresh after each hand-out rather than being reused.
	pending []byte
	due     time.Time   // when pending is to be handed out
	timer   *time.Timer // calls handOutAll
	spare   []*outbox   // for handOutAll to reuse

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
	c.index = len(r.members)
	c.handed = len(r.pending)
	r.members = append(r.members, c)
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
	if nick == c.nick {
		return nil
	}
	if other, taken := r.byNick[key]; taken && other != c {
		return errNickInUse(nick)
	}
	delete(r.byNick, c.key)
	r.byNick[key] = c
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
	last := r.members[len(r.members)-1]
	r.members[c.index] = last
	last.index = c.index
	r.members = r.members[:len(r.members)-1]
	delete(r.byNick, c.key)
	if !r.closed {
		r.broadcast(nil, presenceDelay(len(r.members)), Left, c.nick, reason)
	}
}

// say sends text from c to everyone, c included.
func (r *room) say(c *conn, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcast(c, msgDelay, Msg, c.nick, text)
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

// tell sends line to c alone, after what c has yet to be handed of
// pending if it is a member.
func (r *room) tell(c *conn, line []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.index < len(r.members) && r.members[c.index] == c {
		r.handOut(c)
	}
	c.out.push(line)
}

// whisper sends text from c to the member named to, and to c.
func (r *room) whisper(c *conn, to, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	target, ok := r.byNick[FoldNick(to)]
	if !ok {
		return errorf(CodeNoSuchUser, "no user named "+to+" is here")
	}
	line := Line(Whisper, c.nick, target.nick, text)
	r.handOut(target)
	target.out.push(line)
	r.deliveries++
	if target != c {
		r.handOut(c)
		c.out.push(line)
		r.deliveries++
	}
	return nil
}

// nicks returns every member's nick, sorted case-insensitively.
func (r *room) nicks() []string {
	r.mu.Lock()
	nicks := make([]string, len(r.members))
	for i, m := range r.members {
		nicks[i] = m.nick
	}
	r.mu.Unlock()
	slices.SortFunc(nicks, func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
	})
	return nicks
}

// stats returns the number of members and of lines queued for them so far.
func (r *room) stats() (members int, deliveries int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members), r.deliveries
}

// close hands out what is pending and stops joins and LEFT lines, for
// shutdown.
func (r *room) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.members {
		r.handOut(m)
	}
	r.closed = true
}

func errNickInUse(nick string) *Error {
	return errorf(CodeNickInUse, "the nick "+nick+" is taken")
}
