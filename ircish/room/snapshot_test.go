package room

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// A state restored from its snapshot, through JSON as an engine stores
// it, applies later records as the state it was taken of does: the same
// events, the same people, the same messages kept; and it ignores a copy
// of a record applied before the snapshot, as that state does.
func TestSnapshotRestoresTheFold(t *testing.T) {
	a, b, c := MemberID{"n1", 1}, MemberID{"n2", 1}, MemberID{"n1", 2}
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	before := []Record{
		{Op: OpJoin, ID: a, Made: 1, Nick: "ann", Addr: "10.0.0.1", At: at},
		{Op: OpJoin, ID: b, Made: 1, Nick: "Bob", Addr: "10.0.0.2", At: at},
		{Op: OpSay, ID: a, Made: 2, Text: "one", Seq: 10, At: at},
		{Op: OpRename, ID: b, Made: 2, Nick: "ann"}, // refused: ann's
		{Op: OpSay, ID: b, Made: 3, Text: "two", Seq: 11, At: at},
		{Op: OpSay, ID: a, Made: 3, Text: "three", Seq: 12, At: at},
		// Accounts, bans and mutes: a snapshot carries them, and the
		// address and account of each person, which later bans match.
		{Op: OpRegister, ID: a, Made: 4, Text: "h1", At: at},
		{Op: OpBan, ID: a, Made: 5, Nick: "10.9.0.0/16", Text: BanText(time.Time{}, "bots"), At: at},
		{Op: OpBan, ID: a, Made: 6, Nick: "zed", Text: BanText(at.Add(time.Hour), ""), At: at},
		{Op: OpMute, ID: a, Made: 7, Nick: "bob", Text: BanText(at.Add(time.Hour), "calm"), At: at},
	}
	after := []Record{
		{Op: OpJoin, ID: MemberID{"n3", 1}, Made: 1, Nick: "cy", Addr: "10.9.1.1", At: at},
		{Op: OpJoin, ID: MemberID{"n3", 2}, Made: 1, Nick: "ZED", Addr: "10.0.0.3", At: at},
		{Op: OpSay, ID: b, Made: 3, Text: "muted", Seq: 13, At: at},
		{Op: OpBan, ID: a, Made: 8, Nick: "10.0.0.2", Text: BanText(time.Time{}, ""), At: at},
		{Op: OpSay, ID: a, Made: 3, Text: "three, a copy", Seq: 13, At: at},
		{Op: OpLeave, ID: a, Made: 9, Text: "bye"},
		{Op: OpJoin, ID: c, Made: 1, Nick: "ANN", At: at}, // registered: refused
		{Op: OpJoin, ID: c, Made: 2, Nick: "ann", Text: "h1", At: at},
		{Op: OpJoin, ID: MemberID{"n3", 3}, Made: 1, Nick: "bob", At: at},
		{Op: OpSay, ID: c, Made: 3, Text: "four", Seq: 14, At: at},
	}
	orig := NewState(2, 0)
	for _, r := range before {
		orig.Apply(r)
	}
	data, err := json.Marshal(orig.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	restored, err := NewState(2, 0).Restore(snap)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if got, want := describe(restored), describe(orig); got != want {
		t.Fatalf("restored: %s\nwant: %s", got, want)
	}
	for _, r := range after {
		want, got := orig.Apply(r), restored.Apply(r)
		if got.String() != want.String() {
			t.Errorf("%+v: restored did %q, the original %q", r, got, want)
		}
	}
	if got, want := describe(restored), describe(orig); got != want {
		t.Errorf("afterwards, restored: %s\nwant: %s", got, want)
	}
}

// describe says who is in s, in LIST order, with their counts, and what
// it keeps.
func describe(s *State) string {
	out := ""
	for _, p := range s.People() {
		out += fmt.Sprintf("%s/%s/%d:%d ", p.Nick, p.ID.Node, p.ID.Num, p.made)
	}
	for _, p := range s.People() {
		out += fmt.Sprintf("(%s %s %s) ", p.Nick, p.addr, p.account)
	}
	g := s.Messages()
	for i := range g.Len() {
		e := g.At(i)
		out += fmt.Sprintf("[%d %s %s] ", e.Seq, e.From, e.Text)
	}
	return out + fmt.Sprintf("gone %d accounts %v bans %v mutes %v", g.gone, s.Accounts(), s.Bans(time.Time{}), s.Mutes(time.Time{}))
}

// Restore refuses a snapshot that no state could have made.
func TestRestoreRefusesBadSnapshots(t *testing.T) {
	for name, snap := range map[string]Snapshot{
		"one nick twice":        {People: []SnapshotPerson{{ID: MemberID{"n", 1}, Nick: "ann"}, {ID: MemberID{"n", 2}, Nick: "ANN"}}},
		"one id twice":          {People: []SnapshotPerson{{ID: MemberID{"n", 1}, Nick: "ann"}, {ID: MemberID{"n", 1}, Nick: "bob"}}},
		"messages out of order": {Gone: 5, Messages: []Entry{{Seq: 7}, {Seq: 6}}},
		"a message gone":        {Gone: 5, Messages: []Entry{{Seq: 5}}},
	} {
		if _, err := NewState(10, 0).Restore(snap); err == nil {
			t.Errorf("%s: restored, want an error", name)
		}
	}
}
