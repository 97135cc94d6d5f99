package server

import (
	"context"
	"ircish/internal/chattest"
	"ircish/ircish"
	"ircish/ircish/room"

	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestPresenceDelayGrowsWithTheRoom(t *testing.T) {
	for _, c := range []struct {
		members int
		want    time.Duration
	}{
		{0, 50 * time.Millisecond},
		{4999, 50 * time.Millisecond},
		{5000, 100 * time.Millisecond},
		{10000, 150 * time.Millisecond},
		{1000000, time.Second},
	} {
		if got := presenceDelay(c.members); got != c.want {
			t.Errorf("presenceDelay(%d) = %v, want %v", c.members, got, c.want)
		}
	}
}

// A line to others that must go sooner than the pending ones is handed
// out within its own delay, and takes the earlier ones along.
func TestPendingGoesByTheShortestDelay(t *testing.T) {
	r := newHub(0, func() {})
	a, b := joinPipe(t, r, "a"), joinPipe(t, r, "b")
	a.Expect("JOINED a")
	a.Expect("JOINED b")
	b.Expect("JOINED b")
	r.mu.Lock()
	r.broadcast(nil, time.Hour, ircish.Left, "c", "quit")
	r.broadcast(nil, 10*time.Millisecond, ircish.Msg, "d", "hi")
	r.mu.Unlock()
	for _, p := range []pipeMember{a, b} {
		p.Expect("LEFT c quit")
		p.Expect("MSG d hi")
	}
}

// The actor gets its own line at once, after what it had yet to be handed.
// A member does not get what was said before it joined, and a leaving one
// gets what was said before it left.
func TestPendingSharesInOrder(t *testing.T) {
	r := newHub(0, func() {})
	a := joinPipe(t, r, "a")
	a.Expect("JOINED a")
	b := joinPipe(t, r, "b")
	r.say(b.c, "before c")
	c := joinPipe(t, r, "c")
	r.say(a.c, "hello")
	a.Expect("JOINED b")
	a.Expect("MSG b before c")
	a.Expect("JOINED c")
	a.Expect("MSG a hello")
	c.Expect("JOINED c")
	c.Expect("MSG a hello")
	r.say(a.c, "bye c")
	r.leave(c.c, "quit")
	c.Expect("MSG a bye c")
	b.Expect("JOINED b")
	b.Expect("MSG b before c")
	b.Expect("JOINED c")
	b.Expect("MSG a hello")
	b.Expect("MSG a bye c")
	b.Expect("LEFT c quit")
}

// A reply to one member comes after the room's lines it had yet to be
// handed.
func TestReplyComesAfterPending(t *testing.T) {
	r := newHub(0, func() {})
	a, b := joinPipe(t, r, "a"), joinPipe(t, r, "b")
	r.say(a.c, "hi")
	r.reply(b.c, ircish.Line(ircish.Pong))
	b.Expect("JOINED b")
	b.Expect("MSG a hi")
	b.Expect("PONG")
	if err := r.whisper(b.c, "a", "psst"); err != nil {
		t.Fatal(err)
	}
	a.Expect("JOINED a")
	a.Expect("JOINED b")
	a.Expect("MSG a hi")
	a.Expect("WHISPER b a psst")
}

// A pipeMember is a room member whose outbox writes to a pipe, and a reader
// of the pipe's other end.
type pipeMember struct {
	t    *testing.T
	c    *member
	peer *bufio.Reader
}

// joinPipe joins a client named nick to r.
func joinPipe(t *testing.T, r *hub, nick string) pipeMember {
	t.Helper()
	mine, peer := net.Pipe()
	t.Cleanup(func() { mine.Close(); peer.Close() })
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	m, err := r.join(newOutbox(mine, 1<<20, time.Minute), nick, "", "", false)
	if err != nil {
		t.Fatal(err)
	}
	return pipeMember{t, m, bufio.NewReader(peer)}
}

// Expect reads the member's next line and fails unless it is want.
func (p pipeMember) Expect(want string) {
	p.t.Helper()
	line, err := p.peer.ReadString('\n')
	if err != nil {
		p.t.Fatalf("member %d: waiting for %q: %v", p.c.num, want, err)
	}
	if got := strings.TrimSuffix(line, "\r\n"); got != want {
		p.t.Fatalf("member %d: got %q, want %q", p.c.num, got, want)
	}
}

// Once closed, the room has no hand-out due: Shutdown leaves nothing of
// the room's running.
func TestCloseStopsTheHandOuts(t *testing.T) {
	r := newHub(0, func() {})
	joinPipe(t, r, "a")
	joinPipe(t, r, "b") // a's copy of JOINED b is due later
	r.close()
	if r.timer.Stop() {
		t.Error("after close, a hand-out is still due")
	}
}

// A join that times out, and that the room applies just then, leaves no
// member behind: the client is not handed the room's lines while it has
// no nick, nor twice once it has one again.
func TestTimedOutJoinLeavesNoMember(t *testing.T) {
	r := newHub(0, func() {})
	r.engine = lateEngine{r}
	mine, peer := net.Pipe()
	t.Cleanup(func() { mine.Close(); peer.Close() })
	go io.Copy(io.Discard, peer)
	if _, err := r.join(newOutbox(mine, 1<<20, time.Minute), "ann", "", "", false); err != errNoAnswer {
		t.Fatalf("join: %v, want errNoAnswer", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) != 0 || len(r.local) != 0 || len(r.state.People()) != 0 {
		t.Errorf("after a join that timed out, the room has %d members, %d here, %d people; want none", len(r.members), len(r.local), len(r.state.People()))
	}
}

// A lateEngine applies every record, and answers a join as if it had
// timed out (errNoAnswer): as a cluster does when the record is applied
// just as the wait for it ends.
type lateEngine struct{ h *hub }

func (e lateEngine) Start(context.Context, room.Room) error { return nil }
func (e lateEngine) Node() string                           { return "" }
func (e lateEngine) Close(context.Context)                  {}

func (e lateEngine) Submit(rec room.Record) error {
	e.h.Apply([]room.Record{rec}, nil)
	if rec.Op == room.OpJoin {
		return errNoAnswer
	}
	return nil
}

// A verdict that comes after its wait timed out is not taken for the
// verdict on the member's next record.
func TestLateVerdictIsNotTheNext(t *testing.T) {
	h := newHub(0, func() {})
	h.engine = queueEngine{}
	m := &member{num: 1, out: newOutbox(nil, 10, time.Minute), made: 1, wait: &waiter{}}
	// The verdict on the member's first record, whose wait timed out.
	h.answer(m, verdict{1, ircish.NewError(ircish.CodeNoSuchUser, "no user named bob is here")})

	answer := make(chan error, 1)
	go func() { answer <- h.ask(m, room.Record{Op: room.OpRename, Nick: "ann2"}) }()
	select {
	case err := <-answer:
		t.Fatalf("ask returned %v at once: the verdict on the record before", err)
	case <-time.After(50 * time.Millisecond):
	}
	h.mu.Lock()
	h.answer(m, verdict{2, nil})
	h.mu.Unlock()
	if err := <-answer; err != nil {
		t.Errorf("ask: %v, want the verdict on its own record, nil", err)
	}
}

// A queueEngine orders nothing, as a cluster whose stream is slow, and
// leaves the verdicts to the test.
type queueEngine struct{}

func (queueEngine) Start(context.Context, room.Room) error { return nil }
func (queueEngine) Submit(room.Record) error               { return nil }
func (queueEngine) Node() string                           { return "" }
func (queueEngine) Close(context.Context)                  {}
