package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ircish/internal/chattest"
	"ircish/ircish"
	"ircish/ircish/room"
)

// A fakeArchive records what the room gives it, and answers searches
// with found, or err.
type fakeArchive struct {
	mu       sync.Mutex
	added    []room.Entry
	found    []room.Entry
	err      error
	words    [][]string // searched for
	accounts map[string]string
}

func (a *fakeArchive) SetBans(bans, mutes []room.Ban) {}

func (a *fakeArchive) SetAccount(nick, hash string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accounts == nil {
		a.accounts = make(map[string]string)
	}
	a.accounts[nick] = hash
}

func (a *fakeArchive) Reset(kept []room.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.added = append([]room.Entry(nil), kept...)
}

func (a *fakeArchive) Search(ctx context.Context, words []string, max int) ([]room.Entry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.words = append(a.words, words)
	return a.found, a.err
}

func (a *fakeArchive) Add(e room.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.added = append(a.added, e)
}

func (a *fakeArchive) texts() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, e := range a.added {
		out = append(out, e.From+" "+e.Text)
	}
	return strings.Join(out, "|")
}

// The archive gets every message the room keeps, as it keeps it, and no
// whisper.
func TestArchiveGetsMessages(t *testing.T) {
	a := &fakeArchive{}
	s := &Server{FloodRate: -1}
	if err := s.UseArchive(a, room.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)
	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	ann.Send("MSG one")
	ann.Send("WHISPER bob a secret")
	bob.Expect("^WHISPER ann bob a secret$")
	bob.Send("MSG two")
	ann.Expect("^MSG bob two$")
	if got, want := a.texts(), "ann one|bob two"; got != want {
		t.Errorf("archived %q, want %q", got, want)
	}
	kept := ann.AskHistory("")
	var lines []string
	a.mu.Lock()
	for _, e := range a.added {
		lines = append(lines, strings.TrimSuffix(string(ircish.AppendHistory(nil, e.Seq, e.At, e.From, e.Text)), "\r\n"))
	}
	a.mu.Unlock()
	if got, want := strings.Join(lines, "|"), strings.Join(kept, "|"); got != want {
		t.Errorf("archived as %q, HISTORY gives %q: want the same lines", got, want)
	}
}

// Messages kept before become the room's: HISTORY gives them byte for
// byte, HISTORY AFTER finds its place among them with no GAP, and new
// messages get seqs after them, even if those are ahead of the clock.
func TestUseArchiveRestores(t *testing.T) {
	future := time.Now().Add(time.Hour).UnixMicro()
	at := time.Date(2026, 12, 4, 9, 0, 0, 123456789, time.UTC)
	kept := room.Snapshot{Gone: future - 1}
	for i := range 3 {
		kept.Messages = append(kept.Messages, room.Entry{Seq: future + int64(i), At: at, From: "ann", Text: fmt.Sprintf("kept %d", i)})
	}
	s := &Server{FloodRate: -1, Keep: 10}
	if err := s.UseArchive(&fakeArchive{}, kept); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)
	bob := chattest.Register(t, addr, "bob")
	var want []string
	for _, e := range kept.Messages {
		want = append(want, strings.TrimSuffix(string(ircish.AppendHistory(nil, e.Seq, e.At, e.From, e.Text)), "\r\n"))
	}
	if got := bob.AskHistory(""); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("HISTORY = %q, want %q", got, want)
	}
	if got := bob.AskHistory(fmt.Sprint("AFTER ", future)); strings.Join(got, "|") != strings.Join(want[1:], "|") {
		t.Errorf("HISTORY AFTER the first kept = %q, want %q", got, want[1:])
	}
	if got := bob.AskHistory(fmt.Sprint("AFTER ", future-5)); len(got) == 0 || got[0] != fmt.Sprint("HISTORY GAP ", future) {
		t.Errorf("HISTORY AFTER a seq gone = %q, want HISTORY GAP %d first", got, future)
	}
	bob.Send("MSG new")
	bob.Expect("^MSG bob new$")
	if got := bob.AskHistory("1"); len(got) != 1 || seqOf(t, got[0]) != future+3 {
		t.Errorf("the message after them: %q, want seq %d", got, future+3)
	}
}

// HISTORY SEARCH sends what the archive finds as HISTORY lines, those the
// room still keeps, then HISTORY END; and says what is wrong with a
// search it cannot make.
func TestHistorySearch(t *testing.T) {
	a := &fakeArchive{}
	s := &Server{FloodRate: -1, Keep: 2}
	if err := s.UseArchive(a, room.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)
	newcomer := chattest.Dial(t, addr, "newcomer")
	newcomer.Send("HISTORY SEARCH quick")
	newcomer.Expect("^ERR NOT_REGISTERED ")
	ann := chattest.Register(t, addr, "ann")
	for _, text := range []string{"one", "two quick", "three quick"} {
		ann.Send("MSG " + text)
	}
	kept := ann.AskHistory("")
	a.mu.Lock()
	a.found = slices.Clone(a.added) // "one" is no longer kept by the room (Keep 2)
	a.mu.Unlock()
	if got := ann.AskHistory("SEARCH quick  \"fox\" *"); strings.Join(got, "|") != strings.Join(kept, "|") {
		t.Errorf("HISTORY SEARCH = %q, want the kept %q", got, kept)
	}
	a.mu.Lock()
	if got := a.words[len(a.words)-1]; !slices.Equal(got, []string{"quick", `"fox"`}) {
		t.Errorf("searched for %q, want [quick \"fox\"]", got)
	}
	a.err = errors.New("disk stalled")
	a.mu.Unlock()
	for _, c := range []struct{ args, want string }{
		{"SEARCH", "^ERR BAD_PARAM usage: HISTORY SEARCH"},
		{"search !! ? *", "^ERR BAD_PARAM usage: HISTORY SEARCH"},
		{"SEARCH quick", "^ERR TIMEOUT "},
	} {
		ann.Send("HISTORY " + c.args)
		if line := ann.Expect("^(ERR|HISTORY) "); !regexp.MustCompile(c.want).MatchString(line) {
			t.Errorf("HISTORY %s: got %q, want %s", c.args, line, c.want)
		}
	}

	// A server with no archive says so.
	addr = startServer(t, &Server{FloodRate: -1})
	bob := chattest.Register(t, addr, "bob")
	bob.Send("HISTORY SEARCH quick")
	bob.Expect("^ERR BAD_PARAM this server keeps no messages to search")
}

// A room read afresh (a cluster's engine resets it) has the archive keep
// what the new state keeps, and no more.
func TestArchiveReset(t *testing.T) {
	a := &fakeArchive{}
	s := &Server{FloodRate: -1, Keep: 2}
	if err := s.UseArchive(a, room.Snapshot{}); err != nil {
		t.Fatal(err)
	}
	a.Add(room.Entry{Seq: 1, From: "old", Text: "gone"})
	st := room.NewState(2, 0)
	id := room.MemberID{Node: "n", Num: 1}
	st.Apply(room.Record{Op: room.OpJoin, ID: id, Nick: "ann"})
	for i, text := range []string{"one", "two", "three"} {
		st.Apply(room.Record{Op: room.OpSay, ID: id, Text: text, Seq: int64(10 + i)})
	}
	s.hub.Reset(st)
	if got, want := a.texts(), "ann two|ann three"; got != want {
		t.Errorf("after Reset the archive keeps %q, want %q", got, want)
	}
}
