package room

import (
	"fmt"
	"slices"
	"time"

	"ircish/ircish"
)

// A Snapshot is a State as data: what an engine stores so that a reader
// can start from it rather than from the first record, and the records
// it folds can be deleted (see package cluster). A State restored from
// its Snapshot applies every later record as the State it was taken of
// would.
type Snapshot struct {
	People   []SnapshotPerson `json:"people"`
	Messages []Entry          `json:"messages"` // the messages kept, oldest first
	Gone     int64            `json:"gone"`     // messages up to this seq are not kept
	Accounts []Account        `json:"accounts,omitempty"`
	Bans     []Ban            `json:"bans,omitempty"`  // in force when it was taken, or later
	Mutes    []Ban            `json:"mutes,omitempty"` // the same
}

// An Account is a registered nick, and the argon2id hash of its password.
type Account struct {
	Nick string `json:"nick"` // as registered
	Hash string `json:"hash"`
}

// A SnapshotPerson is a Person as data.
type SnapshotPerson struct {
	ID      MemberID `json:"id"`
	Nick    string   `json:"nick"`
	Made    uint64   `json:"made"` // the Made of its last record applied
	Addr    string   `json:"addr,omitempty"`
	Account string   `json:"account,omitempty"` // FoldNick of the account it gave the password of
}

// Snapshot returns s as data.
func (s *State) Snapshot() Snapshot {
	snap := Snapshot{People: make([]SnapshotPerson, len(s.people)), Gone: s.messages.gone}
	for i, p := range s.people {
		snap.People[i] = SnapshotPerson{ID: p.ID, Nick: p.Nick, Made: p.made, Addr: p.addr, Account: p.account}
	}
	for i := range s.messages.Len() {
		snap.Messages = append(snap.Messages, s.messages.At(i))
	}
	snap.Accounts = s.Accounts()
	snap.Bans, snap.Mutes = all(s.bans), all(s.mutes)
	return snap
}

// all returns bans sorted by target, expired or not: a snapshot has no
// clock.
func all(bans map[string]Ban) []Ban { return inForce(bans, time.Time{}) }

// Restore returns the state of snap, keeping as many messages as s keeps:
// those of snap beyond that are dropped, as gone. It refuses a snapshot
// that no State could have made: two people of one nick or one id, or
// messages out of order.
func (s *State) Restore(snap Snapshot) (*State, error) {
	r := NewState(s.messages.size, snap.Gone)
	for _, sp := range snap.People {
		key := ircish.FoldNick(sp.Nick)
		if r.byNick[key] != nil || r.byID[sp.ID] != nil {
			return nil, fmt.Errorf("room: snapshot with %s twice", sp.Nick)
		}
		p := &Person{ID: sp.ID, Nick: sp.Nick, made: sp.Made, addr: sp.Addr, account: sp.Account}
		r.people = append(r.people, p)
		r.byNick[key], r.byID[p.ID] = p, p
	}
	slices.SortFunc(r.people, func(a, b *Person) int { return nickOrder(a.Nick, b.Nick) })
	for _, a := range snap.Accounts {
		key := ircish.FoldNick(a.Nick)
		if _, ok := r.accounts[key]; ok {
			return nil, fmt.Errorf("room: snapshot with account %s twice", a.Nick)
		}
		r.accounts[key] = a
	}
	for _, b := range snap.Bans {
		key, ok := BanKey(b.Target)
		if !ok {
			return nil, fmt.Errorf("room: snapshot with a ban on %q", b.Target)
		}
		r.bans[key] = b
	}
	for _, b := range snap.Mutes {
		r.mutes[ircish.FoldNick(b.Target)] = b
	}
	last := snap.Gone
	for _, e := range snap.Messages {
		if e.Seq <= last {
			return nil, fmt.Errorf("room: snapshot with message %d after %d", e.Seq, last)
		}
		last = e.Seq
		r.messages.add(e.Seq, e.From, e.Text, e.At)
	}
	return r, nil
}
