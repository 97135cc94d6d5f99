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
// one and the same order. The lock is never held across I/O: delivering a
// line is queueing it in the member's outbox, which never blocks.
//
// All methods are safe to call from any goroutine.
type room struct {
	mu          sync.Mutex
	members     []*client          // in no particular order; a client knows its index
	byNick      map[string]*client // by FoldNick(nick)
	closed      bool               // shutting down: no more joins or LEFT lines
	soon, later kicker             // for MSG lines to others, and JOINED, RENAMED, LEFT

	deliveries int64 // lines queued for members so far
}

func newRoom() *room {
	r := &room{byNick: make(map[string]*client)}
	r.soon = kicker{mu: &r.mu}
	r.later = kicker{mu: &r.mu}
	return r
}

// join registers c under nick and tells everyone, c included.
func (r *room) join(c *client, nick string) error {
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
	r.members = append(r.members, c)
	r.byNick[key] = c
	r.announce(c, Line(Joined, nick))
	return nil
}

// rename changes c's nick and tells everyone. A case variant of c's own nick
// is allowed; the very same nick is a no-op.
func (r *room) rename(c *client, nick string) error {
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
	r.announce(c, Line(Renamed, c.nick, nick))
	c.nick, c.key = nick, key
	return nil
}

// leave removes c and tells everyone else, with reason.
func (r *room) leave(c *client, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := r.members[len(r.members)-1]
	r.members[c.index] = last
	last.index = c.index
	r.members = r.members[:len(r.members)-1]
	delete(r.byNick, c.key)
	if !r.closed {
		r.announce(c, Line(Left, c.nick, reason))
	}
}

// say sends text from c to everyone, c included.
func (r *room) say(c *client, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcast(c, Line(Msg, c.nick, text))
}

// Lines to others wait a moment for company before they are written: when
// many clients talk, or join, at once, every member gets their lines a few
// at a time rather than one write each. A client's own copy, the answer to
// its command, goes at once.
const msgDelay = 500 * time.Microsecond

// presenceDelay is how long JOINED, RENAMED and LEFT lines wait in a room
// of n members: 50 ms, and 50 ms more per 5,000 members up to 1 s, so that
// a join storm costs about 100,000 writes a second at most (n writes per
// delay) in rooms of up to 95,000. It grows in steps, so that an outbox
// waiting for one delay is seldom added to its kicker again for a slightly
// shorter one.
func presenceDelay(n int) time.Duration {
	return min(time.Duration(1+n/5000)*50*time.Millisecond, time.Second)
}

// broadcast queues line, a MSG from actor, for every member. The caller
// holds r.mu.
func (r *room) broadcast(actor *client, line []byte) {
	r.send(actor, line, &r.soon, msgDelay)
}

// announce queues a JOINED, RENAMED or LEFT line about actor for every
// member. The caller holds r.mu.
func (r *room) announce(actor *client, line []byte) {
	r.send(actor, line, &r.later, presenceDelay(len(r.members)))
}

// send queues line for every member: at once for actor, within delay, by
// k's kick, for the others.
func (r *room) send(actor *client, line []byte, k *kicker, delay time.Duration) {
	for _, m := range r.members {
		switch {
		case m == actor:
			m.out.push(line, 0)
		case m.out.push(line, delay):
			k.add(m.out, delay)
		}
	}
	r.deliveries += int64(len(r.members))
}

// A kicker starts the writers of the outboxes added to it, when the
// shortest delay they were added with has passed since it was added.
type kicker struct {
	mu      *sync.Mutex // the room's; guards the rest
	waiting []*outbox
	timer   *time.Timer // calls kick
	due     time.Time   // when timer fires, while outboxes wait
}

// add notes o, which push said is to be added with delay. The caller holds
// k.mu.
func (k *kicker) add(o *outbox, delay time.Duration) {
	if due := time.Now().Add(delay); len(k.waiting) == 0 || due.Before(k.due) {
		k.due = due
		if k.timer == nil {
			k.timer = time.AfterFunc(delay, k.kick)
		} else {
			k.timer.Reset(delay)
		}
	}
	k.waiting = append(k.waiting, o)
}

func (k *kicker) kick() {
	k.mu.Lock()
	waiting := k.waiting
	k.waiting = nil
	k.mu.Unlock()
	for _, o := range waiting {
		o.kick()
	}
}

// whisper sends text from c to the member named to, and to c.
func (r *room) whisper(c *client, to, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	target, ok := r.byNick[FoldNick(to)]
	if !ok {
		return errorf(CodeNoSuchUser, "no user named "+to+" is here")
	}
	line := Line(Whisper, c.nick, target.nick, text)
	target.out.push(line, 0)
	r.deliveries++
	if target != c {
		c.out.push(line, 0)
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

// close stops joins and LEFT lines, for shutdown.
func (r *room) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
}

func errNickInUse(nick string) *Error {
	return errorf(CodeNickInUse, "the nick "+nick+" is taken")
}
