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
	mu      sync.Mutex
	members []*client          // in no particular order; a client knows its index
	byNick  map[string]*client // by FoldNick(nick)
	closed  bool               // shutting down: no more joins or LEFT lines
	waiting []*outbox          // outboxes whose lines wait for a kick, which is due

	deliveries int64 // lines queued for members so far
}

func newRoom() *room {
	return &room{byNick: make(map[string]*client)}
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
		r.announce(nil, Line(Left, c.nick, reason))
	}
}

// say sends text from c to everyone, c included.
func (r *room) say(c *client, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcast(Line(Msg, c.nick, text))
}

// broadcast queues line for every member, to be written at once. The
// caller holds r.mu.
func (r *room) broadcast(line []byte) {
	for _, m := range r.members {
		m.out.push(line, true)
	}
	r.deliveries += int64(len(r.members))
}

// presenceDelay is how long a JOINED, RENAMED or LEFT line may wait for
// others to share its write: when many clients join at once, every member
// gets them a few at a time instead of one write each.
const presenceDelay = 50 * time.Millisecond

// announce queues a JOINED, RENAMED or LEFT line for every member. The
// actor, whose command it answers, gets it at once; the others within
// presenceDelay, or sooner with any urgent line. The caller holds r.mu.
func (r *room) announce(actor *client, line []byte) {
	kickDue := len(r.waiting) > 0
	for _, m := range r.members {
		if m.out.push(line, m == actor) {
			r.waiting = append(r.waiting, m.out)
		}
	}
	r.deliveries += int64(len(r.members))
	if !kickDue && len(r.waiting) > 0 {
		time.AfterFunc(presenceDelay, r.kick)
	}
}

// kick writes the lines that announce left waiting.
func (r *room) kick() {
	r.mu.Lock()
	waiting := r.waiting
	r.waiting = nil
	r.mu.Unlock()
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
	target.out.push(line, true)
	r.deliveries++
	if target != c {
		c.out.push(line, true)
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
