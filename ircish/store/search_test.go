package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ircish/ircish"
	"ircish/ircish/room"
)

func TestMatchQuery(t *testing.T) {
	tests := []struct {
		words []string
		want  string
	}{
		{[]string{"quick"}, `"quick"`},
		{[]string{"quick", "fox"}, `"quick" "fox"`},
		{[]string{`"quick"`, "OR", "NEAR(", "quick*"}, `"""quick""" "OR" "NEAR(" "quick*"`},
		{[]string{"don't"}, `"don't"`},
		{[]string{"0\x00x"}, `"0 x"`},
	}
	for _, c := range tests {
		if got := matchQuery(c.words); got != c.want {
			t.Errorf("matchQuery(%q) = %s, want %s", c.words, got, c.want)
		}
	}
}

// searchTexts returns "from text" of what a search finds, and checks that
// it is oldest first.
func searchTexts(t *testing.T, s *Store, q string) []string {
	t.Helper()
	found, err := s.Search(context.Background(), ircish.SearchWords(q), ircish.HistorySearchMax)
	if err != nil {
		t.Fatalf("Search(%q): %v", q, err)
	}
	var out []string
	for i, e := range found {
		if i > 0 && e.Seq <= found[i-1].Seq {
			t.Errorf("Search(%q): seq %d after %d", q, e.Seq, found[i-1].Seq)
		}
		out = append(out, e.From+" "+e.Text)
	}
	return out
}

// Search finds whole words, whatever their case and accents, every word
// of the query, the newest 100 oldest first; and nothing typed is FTS5
// syntax.
func TestSearch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 1000, Flush: time.Hour})
	at := time.Date(2026, 12, 4, 9, 0, 0, 123456789, time.UTC)
	seq := snap.Gone
	add := func(from, text string) room.Entry {
		seq++
		e := room.Entry{Seq: seq, At: at, From: from, Text: text}
		s.Add(e)
		return e
	}
	fox := add("ann", "the quick brown fox")
	add("bob", "Quick thinking wins")
	add("ann", "quickly now")
	add("cid", "café au lait")
	add("cid", "don't stop")
	add("cid", `or near the "end" quick*`)
	for i := range 150 {
		add("bob", fmt.Sprintf("match %d", i+1))
	}
	for _, c := range []struct {
		q    string
		want string
	}{
		{"quick", `ann the quick brown fox|bob Quick thinking wins|cid or near the "end" quick*`},
		{"quick fox", "ann the quick brown fox"},
		{"QUICK Fox", "ann the quick brown fox"},
		{"zebra", ""},
		{"cafe", "cid café au lait"},
		{"CAFÉ", "cid café au lait"},
		{"don't", "cid don't stop"},
		{"dont", ""},
		{`OR`, `cid or near the "end" quick*`},
		{`NEAR(`, `cid or near the "end" quick*`},
		{`"end" quick*`, `cid or near the "end" quick*`},
		{`quick OR zebra`, ""},
		{"ann", ""}, // the sender is not searched
	} {
		if got := strings.Join(searchTexts(t, s, c.q), "|"); got != c.want {
			t.Errorf("Search(%q) = %q, want %q", c.q, got, c.want)
		}
	}
	matches := searchTexts(t, s, "match")
	if len(matches) != 100 || matches[0] != "bob match 51" || matches[99] != "bob match 150" {
		t.Errorf("Search(match) = %d: %q .. %q, want the newest 100, 51 to 150", len(matches), matches[0], matches[len(matches)-1])
	}
	found, _ := s.Search(context.Background(), []string{"fox"}, 10)
	if len(found) != 1 || found[0].Seq != fox.Seq || !found[0].At.Equal(fox.At) {
		t.Errorf("Search(fox) = %+v, want %+v", found, fox)
	}
	late := add("dee", "a zebra at last") // not written yet: searched all the same
	if got := searchTexts(t, s, "zebra"); len(got) != 1 || got[0] != "dee "+late.Text {
		t.Errorf("Search(zebra) right after it was said = %q", got)
	}
	mustClose(t, s)
	// The index is in the file: found again after reopening.
	s, _ = mustOpen(t, path, Options{Keep: 1000})
	defer mustClose(t, s)
	if got := strings.Join(searchTexts(t, s, "quick fox"), "|"); got != "ann the quick brown fox" {
		t.Errorf("after reopening, Search(quick fox) = %q", got)
	}
}

// The index never keeps a message its chunks no longer hold, and stays
// sound as retention deletes.
func TestSearchWithRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 10, maxChunk: 4})
	es := entries(snap.Gone+1, 25)
	for _, e := range es[:12] {
		s.Add(e)
	}
	if got := len(searchTexts(t, s, "line")); got < 10 {
		t.Errorf("Search(line) found %d, want the 10 kept at least", got)
	}
	for _, e := range es[12:] {
		s.Add(e)
	}
	got := searchTexts(t, s, "line")
	if len(got) < 10 || len(got) > 13 || got[len(got)-1] != "ann "+es[24].Text {
		t.Errorf("Search(line) = %q, want the last 10 to 13", got)
	}
	ctx := context.Background()
	if _, err := s.w.conn.ExecContext(ctx, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')"); err != nil {
		t.Errorf("integrity-check: %v", err)
	}
	var stale int
	if err := s.w.conn.QueryRowContext(ctx, "SELECT count(*) FROM messages_fts WHERE rowid <= (SELECT gone FROM room)").Scan(&stale); err != nil || stale != 0 {
		t.Errorf("%d messages gone still in the index (%v)", stale, err)
	}
	mustClose(t, s)
}

// A search on a stalled disk fails, as the messages that wait would not be
// found: when its ctx ends, or when SQLite gives up waiting for the lock
// (at once here).
func TestSearchOnAStalledDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap, holder := openStalled(t, path)
	s.Add(entries(snap.Gone+1, 1)[0])
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if found, err := s.Search(ctx, []string{"line"}, 10); err == nil {
		t.Errorf("Search on a stalled disk = %v, want an error", found)
	}
	holder.ExecContext(context.Background(), "ROLLBACK")
	if got := searchTexts(t, s, "line"); len(got) != 1 {
		t.Errorf("Search once the disk takes writes = %q, want the one message", got)
	}
	mustClose(t, s)
}

// FuzzMatchQuery checks that no words a user can type make FTS5 fail:
// whatever they hold, they are searched as words.
func FuzzMatchQuery(f *testing.F) {
	for _, s := range []string{"quick", "quick fox", `"quick" OR NEAR( quick*`, "don't", "café", `"`, `""`, "a:b", "^x", "-x +y", "x AND NOT y", "NEAR(a b, 3)", "{a b}", "\ue000", "ǅ"} {
		f.Add(s)
	}
	s, _, err := Open(filepath.Join(f.TempDir(), "ircish.db"), Options{Keep: 10})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close(context.Background())
	s.Add(room.Entry{Seq: time.Now().UnixMicro() + 1, From: "ann", Text: "the quick fox"})
	f.Fuzz(func(t *testing.T, q string) {
		words := ircish.SearchWords(q)
		if len(words) == 0 {
			return
		}
		if _, err := s.Search(context.Background(), words, 10); err != nil {
			t.Errorf("Search(%q) = %v", words, err)
		}
	})
}

// A store in memory, a cluster server's index: it finds what was added,
// and after Reset only what it was reset to, and what came after.
func TestOpenMemoryReset(t *testing.T) {
	s, err := OpenMemory(Options{Keep: 10, Flush: time.Hour, maxChunk: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, s)
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for i := range 12 {
		s.Add(room.Entry{Seq: int64(i + 1), At: at, From: "ann", Text: fmt.Sprintf("old quick %d", i+1)})
	}
	if got := searchTexts(t, s, "quick"); len(got) < 10 || got[len(got)-1] != "ann old quick 12" {
		t.Errorf("Search(quick) = %q, want the last 10 to 13", got)
	}
	s.Reset([]room.Entry{{Seq: 20, At: at, From: "bob", Text: "new quick one"}})
	s.Add(room.Entry{Seq: 21, At: at, From: "bob", Text: "new quick two"})
	if got, want := strings.Join(searchTexts(t, s, "quick"), "|"), "bob new quick one|bob new quick two"; got != want {
		t.Errorf("after Reset, Search(quick) = %q, want %q", got, want)
	}
	s.Reset(nil)
	if got := searchTexts(t, s, "quick"); len(got) != 0 {
		t.Errorf("after Reset(nil), Search(quick) = %q, want nothing", got)
	}
}
