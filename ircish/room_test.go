package ircish

import (
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
	r := newRoom(0)
	a, b := joinPipe(t, r, "a"), joinPipe(t, r, "b")
	a.expect("JOINED a")
	a.expect("JOINED b")
	b.expect("JOINED b")
	r.mu.Lock()
	r.broadcast(nil, time.Hour, Left, "c", "quit")
	r.broadcast(nil, 10*time.Millisecond, Msg, "d", "hi")
	r.mu.Unlock()
	for _, p := range []pipeMember{a, b} {
		p.expect("LEFT c quit")
		p.expect("MSG d hi")
	}
}

// The actor gets its own line at once, after what it had yet to be handed.
// A member does not get what was said before it joined, and a leaving one
// gets what was said before it left.
func TestPendingSharesInOrder(t *testing.T) {
	r := newRoom(0)
	a := joinPipe(t, r, "a")
	a.expect("JOINED a")
	b := joinPipe(t, r, "b")
	r.say(b.c, "before c")
	c := joinPipe(t, r, "c")
	r.say(a.c, "hello")
	a.expect("JOINED b")
	a.expect("MSG b before c")
	a.expect("JOINED c")
	a.expect("MSG a hello")
	c.expect("JOINED c")
	c.expect("MSG a hello")
	r.say(a.c, "bye c")
	r.leave(c.c, "quit")
	c.expect("MSG a bye c")
	b.expect("JOINED b")
	b.expect("MSG b before c")
	b.expect("JOINED c")
	b.expect("MSG a hello")
	b.expect("MSG a bye c")
	b.expect("LEFT c quit")
}

// A line to one member comes after the room's lines it had yet to be
// handed.
func TestTellComesAfterPending(t *testing.T) {
	r := newRoom(0)
	a, b := joinPipe(t, r, "a"), joinPipe(t, r, "b")
	r.say(a.c, "hi")
	r.tell(b.c, Line(Pong))
	b.expect("JOINED b")
	b.expect("MSG a hi")
	b.expect("PONG")
	if err := r.whisper(b.c, "a", "psst"); err != nil {
		t.Fatal(err)
	}
	a.expect("JOINED a")
	a.expect("JOINED b")
	a.expect("MSG a hi")
	a.expect("WHISPER b a psst")
}

// A pipeMember is a room member whose outbox writes to a pipe, and a reader
// of the pipe's other end.
type pipeMember struct {
	t    *testing.T
	c    *member
	peer *bufio.Reader
}

// joinPipe joins a client named nick to r.
func joinPipe(t *testing.T, r *room, nick string) pipeMember {
	t.Helper()
	mine, peer := net.Pipe()
	t.Cleanup(func() { mine.Close(); peer.Close() })
	peer.SetReadDeadline(time.Now().Add(waitTimeout))
	m, err := r.join(newOutbox(mine, 1<<20, time.Minute), nick, false)
	if err != nil {
		t.Fatal(err)
	}
	return pipeMember{t, m, bufio.NewReader(peer)}
}

// expect reads the member's next line and fails unless it is want.
func (p pipeMember) expect(want string) {
	p.t.Helper()
	line, err := p.peer.ReadString('\n')
	if err != nil {
		p.t.Fatalf("member %d: waiting for %q: %v", p.c.conn, want, err)
	}
	if got := strings.TrimSuffix(line, "\r\n"); got != want {
		p.t.Fatalf("member %d: got %q, want %q", p.c.conn, got, want)
	}
}

// Once closed, the room has no hand-out due: Shutdown leaves nothing of
// the room's running.
func TestCloseStopsTheHandOuts(t *testing.T) {
	r := newRoom(0)
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
	r := newRoom(0)
	r.engine = lateEngine{r}
	mine, peer := net.Pipe()
	t.Cleanup(func() { mine.Close(); peer.Close() })
	go io.Copy(io.Discard, peer)
	if _, err := r.join(newOutbox(mine, 1<<20, time.Minute), "ann", false); err != errNoAnswer {
		t.Fatalf("join: %v, want errNoAnswer", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.members) != 0 || len(r.local) != 0 || len(r.state.people) != 0 {
		t.Errorf("after a join that timed out, the room has %d members, %d here, %d people; want none", len(r.members), len(r.local), len(r.state.people))
	}
}

// A lateEngine applies every record, and answers a join as if it had
// timed out (errNoAnswer): as a cluster does when the record is applied
// just as the wait for it ends.
type lateEngine struct{ r *room }

func (e lateEngine) submit(m *member, rec record) error {
	e.r.mu.Lock()
	defer e.r.mu.Unlock()
	e.r.apply(rec)
	if rec.op == opJoin {
		return errNoAnswer
	}
	return nil
}

// A verdict that comes after its wait timed out is not taken for the
// verdict on the member's next record.
func TestLateVerdictIsNotTheNext(t *testing.T) {
	r := newRoom(0)
	r.engine = queueEngine{}
	m := &member{conn: 1, out: newOutbox(nil, 10, time.Minute)}
	// The verdict on the member's first record, whose wait timed out.
	m.wait = &waiter{sent: 1, verdict: make(chan verdict, 1)}
	m.wait.tell(verdict{1, errorf(CodeNoSuchUser, "no user named bob is here")})

	answer := make(chan error, 1)
	go func() { answer <- r.ask(m, record{op: opRename, nick: "ann2"}) }()
	select {
	case err := <-answer:
		t.Fatalf("ask returned %v at once: the verdict on the record before", err)
	case <-time.After(50 * time.Millisecond):
	}
	m.wait.tell(verdict{2, nil})
	if err := <-answer; err != nil {
		t.Errorf("ask: %v, want the verdict on its own record, nil", err)
	}
}

// A queueEngine numbers a member's records, as a cluster does, and leaves
// their verdicts to the test.
type queueEngine struct{}

func (queueEngine) submit(m *member, _ record) error {
	m.wait.sent++
	return nil
}
