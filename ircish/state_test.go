package ircish

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// String says what an event does, for tests.
func (ev event) String() string {
	switch ev.op {
	case opJoin:
		return "JOINED " + ev.nick
	case opRename:
		return "RENAMED " + ev.nick + " " + ev.arg
	case opSay:
		return fmt.Sprintf("MSG %d %s %s", ev.entry.seq, ev.nick, ev.entry.text)
	case opWhisper:
		return fmt.Sprintf("WHISPER %s %s to %s/%d", ev.nick, ev.arg, ev.to.node, ev.to.conn)
	case opLeave:
		return "LEFT " + ev.nick + " " + ev.arg
	case opRefuse:
		return "ERR " + ev.err.Code
	}
	return "nothing"
}

// The fold, record by record: what each record does, given those before.
func TestStateApply(t *testing.T) {
	a, b, c := memberID{"n1", 1}, memberID{"n2", 1}, memberID{"n1", 2}
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		r    record
		want string
		list string // the state's people afterwards, in LIST order
	}{
		{record{op: opSay, id: a, text: "before joining", seq: 1}, "nothing", ""},
		{record{op: opJoin, id: a, nick: "bob"}, "JOINED bob", "bob"},
		{record{op: opJoin, id: a, nick: "again"}, "nothing", "bob"},
		{record{op: opJoin, id: b, nick: "BOB"}, "ERR NICK_IN_USE", "bob"},
		{record{op: opJoin, id: b, nick: "Ann"}, "JOINED Ann", "Ann bob"},
		{record{op: opJoin, id: c, nick: "ann2"}, "JOINED ann2", "Ann ann2 bob"},
		{record{op: opSay, id: b, text: "hi  there ", seq: 7, at: at}, "MSG 7 Ann hi  there ", "Ann ann2 bob"},
		{record{op: opRename, id: a, nick: "bob"}, "nothing", "Ann ann2 bob"},
		{record{op: opRename, id: a, nick: "ANN"}, "ERR NICK_IN_USE", "Ann ann2 bob"},
		{record{op: opRename, id: b, nick: "ann"}, "RENAMED Ann ann", "ann ann2 bob"},
		{record{op: opRename, id: a, nick: "Zed"}, "RENAMED bob Zed", "ann ann2 Zed"},
		{record{op: opRename, id: a, nick: "a"}, "RENAMED Zed a", "a ann ann2"},
		{record{op: opWhisper, id: a, nick: "ANN2", text: "psst"}, "WHISPER a ann2 to n1/2", "a ann ann2"},
		{record{op: opWhisper, id: a, nick: "zed", text: "psst"}, "ERR NO_SUCH_USER", "a ann ann2"},
		{record{op: opWhisper, id: memberID{"n3", 1}, nick: "a", text: "psst"}, "nothing", "a ann ann2"},
		// Records numbered by their member: a copy of one applied is nothing.
		{record{op: opSay, id: c, n: 2, text: "one", seq: 10, at: at}, "MSG 10 ann2 one", "a ann ann2"},
		{record{op: opSay, id: c, n: 2, text: "one", seq: 11, at: at}, "nothing", "a ann ann2"},
		{record{op: opSay, id: c, n: 1, text: "zero", seq: 11, at: at}, "nothing", "a ann ann2"},
		{record{op: opSay, id: c, n: 3, text: "two", seq: 11, at: at}, "MSG 11 ann2 two", "a ann ann2"},
		{record{op: opLeave, id: c, text: "quit"}, "LEFT ann2 quit", "a ann"},
		{record{op: opLeave, id: c, text: "server lost"}, "nothing", "a ann"},
		{record{op: opSay, id: c, text: "after leaving", seq: 9}, "nothing", "a ann"},
		{record{op: opJoin, id: memberID{"n3", 1}, nick: "ann2"}, "JOINED ann2", "a ann ann2"},
		{record{op: opSay, id: a, text: "last", seq: 12, at: at}, "MSG 12 a last", "a ann ann2"},
	}
	s := newState(newRing(10, 0))
	for i, step := range steps {
		got := s.apply(step.r)
		if got.String() != step.want {
			t.Fatalf("step %d: apply(%+v) = %v, want %v", i, step.r, got, step.want)
		}
		var nicks []string
		for _, p := range s.people {
			nicks = append(nicks, p.nick)
			if s.byNick[FoldNick(p.nick)] != p || s.byID[p.id] != p {
				t.Fatalf("step %d: %s is not found by its nick or id", i, p.nick)
			}
		}
		if list := strings.Join(nicks, " "); list != step.list || len(s.byNick) != len(nicks) || len(s.byID) != len(nicks) {
			t.Fatalf("step %d: people %q (%d by nick, %d by id), want %q", i, list, len(s.byNick), len(s.byID), step.list)
		}
	}
	// History keeps what was heard, and only that.
	var kept []string
	for i := range len(s.history.entries) {
		e := s.history.at(i)
		kept = append(kept, fmt.Sprint(e.seq, " ", e.from, " ", e.text))
	}
	if got, want := strings.Join(kept, "|"), "7 Ann hi  there |10 ann2 one|11 ann2 two|12 a last"; got != want {
		t.Errorf("history holds %q, want %q", got, want)
	}
}

// Seqs need not follow one another: HISTORY AFTER finds its place, and
// knows when messages it asks for are gone.
func TestRingAfter(t *testing.T) {
	g := newRing(3, 4)
	for _, seq := range []int64{5, 9, 10, 20} { // 5 is dropped: gone is 5
		g.add(seq, "a", "x", time.Time{})
	}
	for _, c := range []struct {
		after    int64
		n        int
		from, to int
		gap      bool
	}{
		{0, 10, 0, 3, true},
		{4, 10, 0, 3, true},
		{5, 10, 0, 3, false},
		{8, 1, 0, 1, false},
		{9, 10, 1, 3, false},
		{10, 10, 2, 3, false},
		{19, 10, 2, 3, false},
		{20, 10, 3, 3, false},
		{99, 10, 3, 3, false},
	} {
		from, to, gap := g.after(c.after, c.n)
		if from != c.from || to != c.to || gap != c.gap {
			t.Errorf("after(%d, %d) = %d, %d, %v, want %d, %d, %v", c.after, c.n, from, to, gap, c.from, c.to, c.gap)
		}
	}
	if g.oldest() != 9 {
		t.Errorf("oldest() = %d, want 9", g.oldest())
	}
}
