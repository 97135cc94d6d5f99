package room

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"ircish/ircish"
)

// String says what an event does, for tests.
func (ev Event) String() string {
	switch ev.Op {
	case OpJoin:
		return "JOINED " + ev.Nick
	case OpRename:
		return "RENAMED " + ev.Nick + " " + ev.Arg
	case OpSay:
		return fmt.Sprintf("MSG %d %s %s", ev.Entry.Seq, ev.Nick, ev.Entry.Text)
	case OpWhisper:
		return fmt.Sprintf("WHISPER %s %s to %s/%d", ev.Nick, ev.Arg, ev.To.Node, ev.To.Num)
	case OpLeave:
		return "LEFT " + ev.Nick + " " + ev.Arg
	case OpRefuse:
		return "ERR " + ev.Err.Code
	case OpRegister:
		return "REGISTERED " + ev.Nick
	case OpPassword:
		return "PASSWORD " + ev.Nick
	case OpUnregister:
		return "UNREGISTERED " + ev.Nick
	case OpKick, OpBan, OpUnban, OpMute, OpUnmute:
		out := ""
		for _, l := range ev.Out {
			out += " -" + l.Nick
		}
		return fmt.Sprintf("%s %s by %s until %s%s", [...]string{OpKick: "KICK", OpBan: "BAN", OpUnban: "UNBAN", OpMute: "MUTE", OpUnmute: "UNMUTE"}[ev.Op], ev.Arg, ev.Nick, FormatUntil(ev.Ban.Until), out)
	}
	return "nothing"
}

// The fold, record by record: what each record does, given those before.
func TestStateApply(t *testing.T) {
	a, b, c := MemberID{"n1", 1}, MemberID{"n2", 1}, MemberID{"n1", 2}
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		r    Record
		want string
		list string // the state's people afterwards, in LIST order
	}{
		{Record{Op: OpSay, ID: a, Text: "before joining", Seq: 1}, "nothing", ""},
		{Record{Op: OpJoin, ID: a, Nick: "bob"}, "JOINED bob", "bob"},
		{Record{Op: OpJoin, ID: a, Nick: "again"}, "nothing", "bob"},
		{Record{Op: OpJoin, ID: b, Nick: "BOB"}, "ERR NICK_IN_USE", "bob"},
		{Record{Op: OpJoin, ID: b, Nick: "Ann"}, "JOINED Ann", "Ann bob"},
		{Record{Op: OpJoin, ID: c, Nick: "ann2"}, "JOINED ann2", "Ann ann2 bob"},
		{Record{Op: OpSay, ID: b, Text: "hi  there ", Seq: 7, At: at}, "MSG 7 Ann hi  there ", "Ann ann2 bob"},
		{Record{Op: OpRename, ID: a, Nick: "bob"}, "nothing", "Ann ann2 bob"},
		{Record{Op: OpRename, ID: a, Nick: "ANN"}, "ERR NICK_IN_USE", "Ann ann2 bob"},
		{Record{Op: OpRename, ID: b, Nick: "ann"}, "RENAMED Ann ann", "ann ann2 bob"},
		{Record{Op: OpRename, ID: a, Nick: "Zed"}, "RENAMED bob Zed", "ann ann2 Zed"},
		{Record{Op: OpRename, ID: a, Nick: "a"}, "RENAMED Zed a", "a ann ann2"},
		{Record{Op: OpWhisper, ID: a, Nick: "ANN2", Text: "psst"}, "WHISPER a ann2 to n1/2", "a ann ann2"},
		{Record{Op: OpWhisper, ID: a, Nick: "zed", Text: "psst"}, "ERR NO_SUCH_USER", "a ann ann2"},
		{Record{Op: OpWhisper, ID: MemberID{"n3", 1}, Nick: "a", Text: "psst"}, "nothing", "a ann ann2"},
		// Records numbered by their member: a copy of one applied is nothing.
		{Record{Op: OpSay, ID: c, Made: 2, Text: "one", Seq: 10, At: at}, "MSG 10 ann2 one", "a ann ann2"},
		{Record{Op: OpSay, ID: c, Made: 2, Text: "one", Seq: 11, At: at}, "nothing", "a ann ann2"},
		{Record{Op: OpSay, ID: c, Made: 1, Text: "zero", Seq: 11, At: at}, "nothing", "a ann ann2"},
		{Record{Op: OpSay, ID: c, Made: 3, Text: "two", Seq: 11, At: at}, "MSG 11 ann2 two", "a ann ann2"},
		{Record{Op: OpLeave, ID: c, Text: "quit"}, "LEFT ann2 quit", "a ann"},
		{Record{Op: OpLeave, ID: c, Text: "server lost"}, "nothing", "a ann"},
		{Record{Op: OpSay, ID: c, Text: "after leaving", Seq: 9}, "nothing", "a ann"},
		{Record{Op: OpJoin, ID: MemberID{"n3", 1}, Nick: "ann2"}, "JOINED ann2", "a ann ann2"},
		{Record{Op: OpSay, ID: a, Text: "last", Seq: 12, At: at}, "MSG 12 a last", "a ann ann2"},
	}
	s := NewState(10, 0)
	for i, step := range steps {
		got := s.Apply(step.r)
		if got.String() != step.want {
			t.Fatalf("step %d: apply(%+v) = %v, want %v", i, step.r, got, step.want)
		}
		var nicks []string
		for _, p := range s.people {
			nicks = append(nicks, p.Nick)
			if s.byNick[ircish.FoldNick(p.Nick)] != p || s.byID[p.ID] != p {
				t.Fatalf("step %d: %s is not found by its nick or id", i, p.Nick)
			}
		}
		if list := strings.Join(nicks, " "); list != step.list || len(s.byNick) != len(nicks) || len(s.byID) != len(nicks) {
			t.Fatalf("step %d: people %q (%d by nick, %d by id), want %q", i, list, len(s.byNick), len(s.byID), step.list)
		}
	}
	// History keeps what was heard, and only that.
	var kept []string
	for i := range s.messages.Len() {
		e := s.messages.At(i)
		kept = append(kept, fmt.Sprint(e.Seq, " ", e.From, " ", e.Text))
	}
	if got, want := strings.Join(kept, "|"), "7 Ann hi  there |10 ann2 one|11 ann2 two|12 a last"; got != want {
		t.Errorf("history holds %q, want %q", got, want)
	}
}

// Registered nicks, record by record: a claim must carry the hash the
// account has when the record is applied, whatever the server checked.
func TestStateAccounts(t *testing.T) {
	a, b, c := MemberID{"n1", 1}, MemberID{"n2", 1}, MemberID{"n1", 2}
	steps := []struct {
		r        Record
		want     string
		accounts string // afterwards: nick=hash, in LIST's order
	}{
		{Record{Op: OpJoin, ID: a, Nick: "Ann"}, "JOINED Ann", ""},
		{Record{Op: OpPassword, ID: a, Text: "h0 h1"}, "ERR BAD_PARAM", ""},
		{Record{Op: OpRegister, ID: a, Text: "h1"}, "REGISTERED Ann", "Ann=h1"},
		{Record{Op: OpRegister, ID: a, Text: "h2"}, "ERR NICK_REGISTERED", "Ann=h1"},
		{Record{Op: OpRegister, ID: b, Text: "h9"}, "nothing", "Ann=h1"}, // b is not here
		{Record{Op: OpLeave, ID: a}, "LEFT Ann ", "Ann=h1"},
		// A claim without the hash, or with an old one, is refused.
		{Record{Op: OpJoin, ID: b, Nick: "ANN"}, "ERR NICK_REGISTERED", "Ann=h1"},
		{Record{Op: OpJoin, ID: b, Nick: "ann", Text: "h0"}, "ERR NICK_REGISTERED", "Ann=h1"},
		{Record{Op: OpJoin, ID: b, Nick: "ann", Text: "h1"}, "JOINED ann", "Ann=h1"},
		{Record{Op: OpRename, ID: b, Nick: "ANN"}, "RENAMED ann ANN", "Ann=h1"}, // case only
		{Record{Op: OpJoin, ID: c, Nick: "cy"}, "JOINED cy", "Ann=h1"},
		{Record{Op: OpRename, ID: b, Nick: "bo"}, "RENAMED ANN bo", "Ann=h1"},
		{Record{Op: OpRename, ID: c, Nick: "ann"}, "ERR NICK_REGISTERED", "Ann=h1"},
		{Record{Op: OpRename, ID: c, Nick: "ann", Text: "h1"}, "RENAMED cy ann", "Ann=h1"},
		// Changes must name the hash the account has.
		{Record{Op: OpPassword, ID: c, Text: "h0 h2"}, "ERR BAD_PASSWORD", "Ann=h1"},
		{Record{Op: OpPassword, ID: c, Text: "h1 h2"}, "PASSWORD ann", "Ann=h2"},
		{Record{Op: OpUnregister, ID: c, Text: "h1"}, "ERR BAD_PASSWORD", "Ann=h2"},
		{Record{Op: OpRegister, ID: b, Text: "h5"}, "REGISTERED bo", "Ann=h2 bo=h5"},
		{Record{Op: OpUnregister, ID: c, Text: "h2"}, "UNREGISTERED ann", "bo=h5"},
		{Record{Op: OpUnregister, ID: c, Text: "h2"}, "ERR BAD_PARAM", "bo=h5"},
		{Record{Op: OpLeave, ID: b}, "LEFT bo ", "bo=h5"},
	}
	s := NewState(10, 0)
	for i, step := range steps {
		if got := s.Apply(step.r); got.String() != step.want {
			t.Fatalf("step %d: apply(%+v) = %v, want %v", i, step.r, got, step.want)
		}
		var as []string
		for _, acc := range s.Accounts() {
			as = append(as, acc.Nick+"="+acc.Hash)
		}
		if got := strings.Join(as, " "); got != step.accounts {
			t.Fatalf("step %d: accounts %q, want %q", i, got, step.accounts)
		}
	}
	// A snapshot carries the accounts.
	r, err := NewState(10, 0).Restore(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Apply(Record{Op: OpJoin, ID: MemberID{"n3", 1}, Nick: "BO", Text: "h4"}); got.String() != "ERR NICK_REGISTERED" {
		t.Errorf("restored: a claim with a wrong hash: %v", got)
	}
	if hash, ok := r.Account("bO"); !ok || hash != "h5" {
		t.Errorf("restored: Account(bO) = %q, %v; want h5", hash, ok)
	}
}

// Moderation, record by record: kicks, bans of nicks, accounts, addresses
// and networks, mutes, and their ends, by the records' own times.
func TestStateModeration(t *testing.T) {
	op, a, b, c := MemberID{"n1", 1}, MemberID{"n2", 1}, MemberID{"n2", 2}, MemberID{"n1", 2}
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	in30 := BanText(min(30), "spam")
	steps := []struct {
		r    Record
		want string
		list string
	}{
		{Record{Op: OpJoin, ID: op, Nick: "op", Addr: "127.0.0.1", At: t0}, "JOINED op", "op"},
		{Record{Op: OpJoin, ID: a, Nick: "ann", Addr: "10.0.0.7", At: t0}, "JOINED ann", "ann op"},
		{Record{Op: OpJoin, ID: b, Nick: "bob", Addr: "2001:db8::1", At: t0}, "JOINED bob", "ann bob op"},
		{Record{Op: OpKick, ID: op, Nick: "zed", Text: "bye", At: t0}, "ERR NO_SUCH_USER", "ann bob op"},
		{Record{Op: OpKick, ID: op, Nick: "ANN", Text: "bye", At: t0}, "KICK ann by op until forever -ann", "bob op"},
		{Record{Op: OpBan, ID: op, Nick: "a b", Text: in30, At: t0}, "ERR BAD_PARAM", "bob op"},
		// A nick: refused at NICK, and at a rename, until the ban ends.
		{Record{Op: OpBan, ID: op, Nick: "Ann", Text: in30, At: t0}, "BAN Ann by op until 2026-12-04T09:30:00Z", "bob op"},
		{Record{Op: OpJoin, ID: a, Nick: "ANN", Addr: "10.0.0.8", At: min(1)}, "ERR BANNED", "bob op"},
		{Record{Op: OpRename, ID: b, Nick: "ann", At: min(1)}, "ERR BANNED", "bob op"},
		{Record{Op: OpJoin, ID: a, Nick: "ann", Addr: "10.0.0.8", At: min(30)}, "JOINED ann", "ann bob op"},
		// A network: whoever is in it leaves, and is kept out.
		{Record{Op: OpBan, ID: op, Nick: "2001:db8::/32", Text: BanText(time.Time{}, ""), At: min(31)}, "BAN 2001:db8::/32 by op until forever -bob", "ann op"},
		{Record{Op: OpJoin, ID: c, Nick: "cy", Addr: "2001:db8:1::5", At: min(32)}, "ERR BANNED", "ann op"},
		{Record{Op: OpJoin, ID: c, Nick: "cy", Addr: "2001:db9::5", At: min(32)}, "JOINED cy", "ann cy op"},
		{Record{Op: OpUnban, ID: op, Nick: "2001:db8:0::/32", At: min(33)}, "UNBAN 2001:db8::/32 by op until forever", "ann cy op"},
		{Record{Op: OpUnban, ID: op, Nick: "2001:db8::/32", At: min(33)}, "ERR BAD_PARAM", "ann cy op"},
		// An address, written as an IPv4-mapped IPv6 one or not.
		{Record{Op: OpBan, ID: op, Nick: "::ffff:10.0.0.8", Text: in30, At: min(34)}, "BAN ::ffff:10.0.0.8 by op until 2026-12-04T09:30:00Z", "ann cy op"},
		{Record{Op: OpBan, ID: op, Nick: "10.0.0.8", Text: BanText(min(40), "x"), At: min(34)}, "BAN 10.0.0.8 by op until 2026-12-04T09:40:00Z -ann", "cy op"},
		// Mutes: MSG and WHISPER refused until it ends; it follows a rename.
		{Record{Op: OpMute, ID: op, Nick: "cy", Text: BanText(min(50), "calm"), At: min(35)}, "MUTE cy by op until 2026-12-04T09:50:00Z", "cy op"},
		{Record{Op: OpSay, ID: c, Text: "hi", Seq: 1, At: min(36)}, "ERR MUTED", "cy op"},
		{Record{Op: OpRename, ID: c, Nick: "cy2", At: min(36)}, "RENAMED cy cy2", "cy2 op"},
		{Record{Op: OpWhisper, ID: c, Nick: "op", Text: "psst", At: min(36)}, "ERR MUTED", "cy2 op"},
		{Record{Op: OpUnmute, ID: op, Nick: "CY2", At: min(37)}, "UNMUTE cy2 by op until 2026-12-04T09:50:00Z", "cy2 op"},
		{Record{Op: OpSay, ID: c, Text: "hi", Seq: 2, At: min(37)}, "MSG 2 cy2 hi", "cy2 op"},
		{Record{Op: OpMute, ID: op, Nick: "cy2", Text: BanText(min(38), ""), At: min(37)}, "MUTE cy2 by op until 2026-12-04T09:38:00Z", "cy2 op"},
		{Record{Op: OpSay, ID: c, Text: "again", Seq: 3, At: min(38)}, "MSG 3 cy2 again", "cy2 op"},
	}
	s := NewState(10, 0)
	for i, step := range steps {
		if got := s.Apply(step.r); !strings.HasPrefix(got.String(), step.want) {
			t.Fatalf("step %d: apply(%+v) = %v, want %v", i, step.r, got, step.want)
		}
		var nicks []string
		for _, p := range s.people {
			nicks = append(nicks, p.Nick)
		}
		if list := strings.Join(nicks, " "); list != step.list {
			t.Fatalf("step %d: people %q, want %q", i, list, step.list)
		}
	}
	if got := fmt.Sprint(s.Bans(min(39))); !strings.Contains(got, "10.0.0.8") || strings.Contains(got, "Ann") {
		t.Errorf("bans at 9:39: %s, want 10.0.0.8's and not Ann's", got)
	}
	// A snapshot carries bans: a restored room keeps the address out.
	r, err := NewState(10, 0).Restore(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Apply(Record{Op: OpJoin, ID: MemberID{"n3", 1}, Nick: "dee", Addr: "10.0.0.8", At: min(39)}); got.String() != "ERR BANNED" {
		t.Errorf("restored: a join from a banned address: %v", got)
	}
}

// Seqs need not follow one another: HISTORY AFTER finds its place, and
// knows when messages it asks for are gone.
func TestRingAfter(t *testing.T) {
	g := Ring{size: 3, gone: 4}
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
		from, to, gap := g.After(c.after, c.n)
		if from != c.from || to != c.to || gap != c.gap {
			t.Errorf("after(%d, %d) = %d, %d, %v, want %d, %d, %v", c.after, c.n, from, to, gap, c.from, c.to, c.gap)
		}
	}
	if g.Oldest() != 9 {
		t.Errorf("oldest() = %d, want 9", g.Oldest())
	}
}

// Registrations stop at MaxAccounts.
func TestStateMaxAccounts(t *testing.T) {
	s := NewState(10, 0)
	for i := range MaxAccounts + 1 {
		id := MemberID{"n1", uint64(i)}
		s.Apply(Record{Op: OpJoin, ID: id, Nick: fmt.Sprint("u", i)})
		got := s.Apply(Record{Op: OpRegister, ID: id, Text: "h"})
		s.Apply(Record{Op: OpLeave, ID: id})
		if want := "REGISTERED"; i == MaxAccounts {
			want = "ERR SERVER_FULL"
			if got.String() != want {
				t.Fatalf("registration %d: %v, want %s", i+1, got, want)
			}
		} else if !strings.HasPrefix(got.String(), want) {
			t.Fatalf("registration %d: %v, want %s", i+1, got, want)
		}
	}
}
