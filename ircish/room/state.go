package room

import (
	"cmp"
	"slices"
	"strings"

	"ircish/ircish"
)

// A State is the room as the records so far make it: who is here, under
// which nick, and the last messages said.
type State struct {
	people   []*Person // in LIST's order (see nickOrder)
	byNick   map[string]*Person
	byID     map[MemberID]*Person
	messages Ring
	accounts map[string]Account // registered nicks, by FoldNick
	bans     map[string]Ban     // by BanKey of the target
	mutes    map[string]Ban     // by FoldNick
}

// A Person is a member as the state knows it. Its fields are the state's:
// read them, never change them.
type Person struct {
	ID      MemberID
	Nick    string
	made    uint64 // the Made of its last record applied
	addr    string // its IP address, for bans
	account string // FoldNick of the account it gave the password of, if any
}

// NewState returns an empty room that keeps the last keep messages, and
// knows that those up to seq gone were said before it and are not kept.
func NewState(keep int, gone int64) *State {
	return &State{
		byNick:   make(map[string]*Person),
		byID:     make(map[MemberID]*Person),
		messages: Ring{size: keep, gone: gone},
		accounts: make(map[string]Account),
		bans:     make(map[string]Ban),
		mutes:    make(map[string]Ban),
	}
}

// Fresh returns an empty room that keeps as many messages as s, and
// knows that those up to seq gone are not kept.
func (s *State) Fresh(gone int64) *State { return NewState(s.messages.size, gone) }

// People returns everyone here, in LIST's order: nicks case-insensitively,
// and nicks that differ only in case next to each other. The slice is the
// state's: read it, never change it or keep it past the next Apply.
func (s *State) People() []*Person { return s.people }

// Messages returns the last messages said.
func (s *State) Messages() *Ring { return &s.messages }

// Account returns the hash of nick's password, if nick is registered.
func (s *State) Account(nick string) (hash string, ok bool) {
	a, ok := s.accounts[ircish.FoldNick(nick)]
	return a.Hash, ok
}

// Accounts returns the registered nicks, in LIST's order.
func (s *State) Accounts() []Account {
	as := make([]Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		as = append(as, a)
	}
	slices.SortFunc(as, func(a, b Account) int { return nickOrder(a.Nick, b.Nick) })
	return as
}

// Apply applies r and returns what it did.
func (s *State) Apply(r Record) Event {
	p := s.byID[r.ID]
	if p == nil && r.Op != OpJoin || p != nil && (r.Op == OpJoin || r.Made != 0 && r.Made <= p.made) {
		return Event{ID: r.ID} // from someone gone, or a copy of a record applied
	}
	if p != nil && r.Made != 0 {
		p.made = r.Made
	}
	switch r.Op {
	case OpJoin:
		key := ircish.FoldNick(r.Nick)
		if s.byNick[key] != nil {
			return Event{Op: OpRefuse, ID: r.ID, Err: errNickInUse(r.Nick)}
		}
		if a, ok := s.accounts[key]; ok && r.Text != a.Hash {
			return Event{Op: OpRefuse, ID: r.ID, Err: ErrNickRegistered(r.Nick)}
		}
		if b, banned := s.Banned(r.Nick, r.Addr, r.At); banned {
			return refuse(r, ErrBanned(b))
		}
		p = &Person{ID: r.ID, Nick: r.Nick, made: r.Made, addr: r.Addr}
		if r.Text != "" {
			p.account = key
		}
		s.people = slices.Insert(s.people, s.place(r.Nick), p)
		s.byNick[key], s.byID[r.ID] = p, p
		return Event{Op: OpJoin, ID: r.ID, Nick: r.Nick}
	case OpRename:
		if r.Nick == p.Nick {
			return Event{ID: r.ID}
		}
		key := ircish.FoldNick(r.Nick)
		if other := s.byNick[key]; other != nil && other != p {
			return Event{Op: OpRefuse, ID: r.ID, Err: errNickInUse(r.Nick)}
		}
		// A change of case only keeps the nick, and its account.
		if a, ok := s.accounts[key]; ok && r.Text != a.Hash && key != ircish.FoldNick(p.Nick) {
			return Event{Op: OpRefuse, ID: r.ID, Err: ErrNickRegistered(r.Nick)}
		}
		if b, banned := s.Banned(r.Nick, "", r.At); banned {
			return refuse(r, ErrBanned(b))
		}
		if r.Text != "" {
			p.account = key
		}
		if m, ok := s.mutes[ircish.FoldNick(p.Nick)]; ok { // a mute follows its member
			delete(s.mutes, ircish.FoldNick(p.Nick))
			m.Target = r.Nick
			s.mutes[key] = m
		}
		s.remove(p)
		old := p.Nick
		p.Nick = r.Nick
		s.people = slices.Insert(s.people, s.place(r.Nick), p)
		s.byNick[key], s.byID[r.ID] = p, p
		return Event{Op: OpRename, ID: r.ID, Nick: old, Arg: r.Nick}
	case OpSay:
		if b, muted := s.muted(p, r.At); muted {
			return refuse(r, ErrMuted(b))
		}
		e := s.messages.add(r.Seq, p.Nick, r.Text, r.At)
		return Event{Op: OpSay, ID: r.ID, Nick: p.Nick, Entry: e}
	case OpWhisper:
		if b, muted := s.muted(p, r.At); muted {
			return refuse(r, ErrMuted(b))
		}
		to := s.byNick[ircish.FoldNick(r.Nick)]
		if to == nil {
			return refuse(r, errNoSuchUser(r.Nick))
		}
		return Event{Op: OpWhisper, ID: r.ID, To: to.ID, Nick: p.Nick, Arg: to.Nick}
	case OpLeave:
		s.remove(p)
		return Event{Op: OpLeave, ID: r.ID, Nick: p.Nick, Arg: r.Text}
	case OpRegister, OpPassword, OpUnregister:
		return s.applyAccount(r, p)
	case OpKick, OpBan, OpUnban, OpMute, OpUnmute:
		return s.applyModeration(r, p)
	}
	return Event{ID: r.ID}
}

// applyAccount applies r, an account op of p's, to p's nick.
func (s *State) applyAccount(r Record, p *Person) Event {
	key := ircish.FoldNick(p.Nick)
	a, registered := s.accounts[key]
	refuse := func(err *ircish.Error) Event { return Event{Op: OpRefuse, ID: r.ID, Err: err} }
	old, next, _ := strings.Cut(r.Text, " ")
	switch {
	case r.Op == OpRegister && registered:
		return refuse(ircish.NewError(ircish.CodeNickRegistered, "the nick "+p.Nick+" is registered already"))
	case r.Op == OpRegister && len(s.accounts) >= MaxAccounts:
		return refuse(ircish.NewError(ircish.CodeServerFull, "no more nicks can be registered here"))
	case r.Op == OpRegister:
		s.accounts[key] = Account{Nick: p.Nick, Hash: r.Text}
		p.account = key
	case !registered:
		return refuse(ircish.NewError(ircish.CodeBadParam, "the nick "+p.Nick+" is not registered"))
	case old != a.Hash: // changed since the server checked the password
		return refuse(ErrBadPassword)
	case r.Op == OpPassword:
		s.accounts[key] = Account{Nick: a.Nick, Hash: next}
	default:
		delete(s.accounts, key)
	}
	return Event{Op: r.Op, ID: r.ID, Nick: p.Nick}
}

// MaxAccounts bounds the registered nicks: each costs memory, on every
// server, and strangers may register.
const MaxAccounts = 100000

// ErrNickRegistered is the error of a claim of a registered nick without
// its password.
func ErrNickRegistered(nick string) *ircish.Error {
	return ircish.NewError(ircish.CodeNickRegistered, "the nick "+nick+" is registered: NICK "+nick+" <password>")
}

// ErrBadPassword is the error of a wrong password.
var ErrBadPassword = ircish.NewError(ircish.CodeBadPassword, "wrong password")

// remove takes p out of the state.
func (s *State) remove(p *Person) {
	i := s.place(p.Nick)
	s.people = slices.Delete(s.people, i, i+1)
	delete(s.byNick, ircish.FoldNick(p.Nick))
	delete(s.byID, p.ID)
}

// place returns where nick is, or would be, in people.
func (s *State) place(nick string) int {
	i, _ := slices.BinarySearchFunc(s.people, nick, func(p *Person, nick string) int {
		return nickOrder(p.Nick, nick)
	})
	return i
}

// nickOrder orders nicks case-insensitively, and nicks that differ only in
// case next to each other.
func nickOrder(a, b string) int {
	return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
}

func errNickInUse(nick string) *ircish.Error {
	return ircish.NewError(ircish.CodeNickInUse, "the nick "+nick+" is taken")
}
