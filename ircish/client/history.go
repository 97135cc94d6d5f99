package client

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"ircish/ircish"
)

// The client's side of history: after joining it asks for the last
// messages said (its scrollback), or, back after a lost connection, for
// those said since the last one it saw, which it knows by seq because it
// asks the server for HISTORY LIVE. A reply may repeat messages that came
// live while it was on its way; those are shown once.
//
// HISTORY is optional: a server of protocol version 1 from before it
// refuses HISTORY LIVE as an unknown command (or, before NICK, as not
// allowed yet), or ignores it. So the client asks for messages only once
// the server has answered HISTORY LIVE, holding the room's lines until
// then; and it carries on without them, saying nothing, if the server
// refuses HISTORY LIVE, or answers the LIST sent after it first (a server
// answers in order), or says nothing for HistoryWait.

// maxPlain bounds the messages remembered to recognise in a reply, and
// maxHeld the lines held while one is awaited.
const (
	maxPlain = 1000
	maxHeld  = 100000
)

// A held is a line that came while a HISTORY reply was awaited: an event,
// or a message as a HISTORY line tells it (msg.Seq != 0).
type held struct {
	ev  Event
	msg Earlier
}

// What the server of this connection said to HISTORY LIVE.
type historySupport int

const (
	historyAsked historySupport = iota // nothing yet
	historyKept                        // HISTORY LIVE: messages come as HISTORY lines
	historyNone                        // refused or ignored it, or nothing in time: ask for no messages
)

// HistoryWait is how long the caller lets AwaitsHistory last at most. A
// server answers HISTORY LIVE, or the LIST after it, at once; this is for
// one that does neither.
const HistoryWait = 2 * time.Second

// historyAll is the count asked for to fill a gap: more than any server
// keeps, which gives all it has.
const historyAll = "1000000"

// joined is what follows our own JOINED: it asks who is here, and for the
// messages we have not seen, at once if the server has HISTORY, or once
// it says so.
func (s *Session) joined() (Event, []byte) {
	ev := Registered{Nick: s.nick, Again: s.rejoin != ""}
	s.rejoin = ""
	reply := ircish.Line(ircish.List)
	var ask []byte
	switch {
	case s.support == historyNone:
	case s.lastSeq > 0:
		ask = ircish.Line(ircish.History, ircish.HistoryAfter, strconv.FormatInt(s.lastSeq, 10), historyAll)
	case s.scrollback > 0:
		ask = ircish.Line(ircish.History, strconv.Itoa(s.scrollback))
	}
	switch {
	case ask == nil:
	case s.support == historyAsked:
		s.catchUp = ask
	default:
		s.awaited = append(s.awaited, "")
		reply = append(reply, ask...)
	}
	return ev, reply
}

// holding reports whether the room's lines are held: for a HISTORY
// reply, or for the server's word on whether it has HISTORY.
func (s *Session) holding() bool { return len(s.awaited) > 0 || s.AwaitsHistory() }

// AwaitsHistory reports whether the session holds the room's lines until
// the server says whether it has HISTORY. It may never say: the caller
// lets this last HistoryWait at most, then calls ReleaseHeld.
func (s *Session) AwaitsHistory() bool { return s.catchUp != nil }

// ReleaseHeld stops holding the room's lines, and returns those held: for
// the server's word on HISTORY, which has not come in time, or for a
// reply, when the connection ends. It takes the server to have no
// HISTORY.
func (s *Session) ReleaseHeld() Event { return s.noHistory(nil) }

// noHistory notes that the server has no HISTORY, and returns the lines
// held for a reply that will not come, then then (if not nil).
func (s *Session) noHistory(then Event) Event {
	s.support, s.catchUp, s.awaited = historyNone, nil, nil
	ev := s.release(0)
	if ev.empty() {
		return then
	}
	if then != nil {
		ev.Live = append(ev.Live, then)
	}
	return ev
}

// history handles a HISTORY line from the server, with its fields, and
// returns the line to send in reply if there is one: the messages to ask
// for, once the server answers HISTORY LIVE.
func (s *Session) history(p []string) (Event, []byte) {
	switch {
	case len(p) == 1 && p[0] == ircish.HistoryLive:
		s.support = historyKept
		ask := s.catchUp
		if ask != nil {
			s.catchUp = nil
			s.awaited = append(s.awaited, "")
		}
		return nil, ask
	case len(p) == 2 && p[0] == ircish.HistoryGap:
		s.gap = true
		return nil, nil
	case len(p) == 2 && p[0] == ircish.HistoryEnd:
		n, _ := strconv.Atoi(p[1])
		return s.endReply(n), nil
	case len(p) < 4:
		return Unknown{Line: "HISTORY " + strings.Join(p, " ")}, nil
	}
	seq, err := strconv.ParseInt(p[0], 10, 64)
	at, err2 := time.Parse(ircish.HistoryTime, p[1])
	if err != nil || err2 != nil || seq <= 0 {
		return Unknown{Line: "HISTORY " + strings.Join(p, " ")}, nil
	}
	m := Earlier{Seq: seq, At: at, From: p[2], Text: p[3]}
	if len(s.awaited) > 0 {
		s.held = append(s.held, held{msg: m})
		return nil, nil
	}
	s.lastSeq = max(s.lastSeq, seq)
	return s.message(m.From, m.Text), nil
}

// endReply makes the event of a HISTORY reply of n messages (see release),
// or of a search's (see found).
func (s *Session) endReply(n int) Event {
	var query string
	if len(s.awaited) > 0 {
		query = s.awaited[0]
		s.awaited = s.awaited[1:]
	}
	if query != "" {
		return s.found(query, n)
	}
	if ev := s.release(n); !ev.empty() {
		return ev
	}
	return nil
}

// found makes the event of the reply to a search for query, of n
// messages, which are the last n held, and of the lines held before it,
// which came live.
func (s *Session) found(query string, n int) Found {
	n = min(n, len(s.held))
	ev := Found{Query: query, Live: s.releaseLive(s.held[:len(s.held)-n])}
	for _, h := range s.held[len(s.held)-n:] {
		ev.Messages = append(ev.Messages, h.msg)
	}
	s.held = nil
	if len(s.awaited) == 0 {
		s.plain = nil
	}
	return ev
}

// searchFailed ends the search awaited, which the server refused with e:
// the lines held for it come, then e.
func (s *Session) searchFailed(e ServerError) Event {
	s.awaited = s.awaited[1:]
	live := append(s.releaseLive(s.held), e)
	s.held = nil
	if len(s.awaited) == 0 {
		s.plain = nil
	}
	return Found{Query: "", Live: live}
}

// releaseLive returns the events of lines held that came live.
func (s *Session) releaseLive(hs []held) []Event {
	var evs []Event
	for _, h := range hs {
		if h.msg.Seq == 0 {
			evs = append(evs, h.ev)
			continue
		}
		s.lastSeq = max(s.lastSeq, h.msg.Seq)
		evs = append(evs, s.message(h.msg.From, h.msg.Text))
	}
	return evs
}

// release makes the event of a HISTORY reply of n messages, which are the
// last n held, and of the lines held before it, which came live.
func (s *Session) release(n int) Scrollback {
	n = min(n, len(s.held))
	live, reply := s.held[:len(s.held)-n], s.held[len(s.held)-n:]
	ev := Scrollback{Gap: s.gap}
	seen := make(map[int64]bool)
	for _, h := range live {
		if h.msg.Seq == 0 {
			ev.Live = append(ev.Live, h.ev)
			continue
		}
		seen[h.msg.Seq] = true
		s.lastSeq = max(s.lastSeq, h.msg.Seq)
		ev.Live = append(ev.Live, s.message(h.msg.From, h.msg.Text))
	}
	// The messages that came as MSG lines before the server sent seqs are
	// the newest of the reply: look for them from its end.
	for i := len(reply) - 1; i >= 0; i-- {
		m := reply[i].msg
		s.lastSeq = max(s.lastSeq, m.Seq)
		if !seen[m.Seq] && !s.sawPlain(m) {
			ev.Earlier = append(ev.Earlier, m)
		}
	}
	slices.Reverse(ev.Earlier)
	s.held, s.gap = nil, false
	if len(s.awaited) == 0 {
		s.plain = nil
	}
	return ev
}

// empty reports whether ev has nothing to show.
func (ev Scrollback) empty() bool { return len(ev.Earlier) == 0 && len(ev.Live) == 0 && !ev.Gap }

// sawPlain reports whether m came as a MSG line before the server sent us
// seqs, and forgets that it did.
func (s *Session) sawPlain(m Earlier) bool {
	for i, said := range s.plain {
		if said == m.From+" "+m.Text {
			s.plain = slices.Delete(s.plain, i, i+1)
			return true
		}
	}
	return false
}

// Reconnect starts over on a new connection after the last one was lost.
// It returns the lines to send first: they register again under our nick,
// after which the session asks for the messages said while we were away.
// If the nick is taken, the session says NickHeld, once, and asks for it
// again (see AwaitsNick) for up to NickHeldFor; then it takes our nick
// and a _. It returns nil if we never had a nick.
func (s *Session) Reconnect() []byte {
	nick := s.nick
	if nick == "" {
		nick = s.rejoin
	}
	s.nick, s.quitting = "", false
	clear(s.users)
	if nick == "" {
		return nil
	}
	s.rejoin, s.heldUntil, s.nickHeld = nick, s.now().Add(NickHeldFor), false
	return s.hello(nick)
}

// NickHeldFor is how long a session back after a reconnect waits for its
// nick: a server sees a connection lost without a word within seconds (a
// cluster, a lost server's users within lostAfter, 4s, and a second).
const NickHeldFor = 15 * time.Second

// AwaitsNick reports whether the session is to ask again for our nick,
// found held by our lost connection: the caller waits a moment, then
// sends RetryNick's line.
func (s *Session) AwaitsNick() bool { return s.retryNick }

// RetryNick returns the NICK line that asks again for our nick; nil if we
// are not to ask again (see AwaitsNick).
func (s *Session) RetryNick() []byte {
	if !s.retryNick {
		return nil
	}
	s.retryNick = false
	return s.join(s.rejoin)
}

// showHistory asks for earlier messages: /history [N].
func (s *Session) showHistory(args string) ([]byte, Event) {
	w, ok := words(args)
	n := DefaultScrollback
	if ok && len(w) == 1 {
		var err error
		n, err = strconv.Atoi(w[0])
		ok = err == nil && n > 0
	}
	if !ok || len(w) > 1 {
		c, _ := lookup("history")
		return nil, usage(c)
	}
	if hint := s.historyHint(); hint != nil {
		return nil, hint
	}
	s.awaited = append(s.awaited, "")
	return ircish.Line(ircish.History, strconv.Itoa(n)), nil
}

// historyHint returns why a HISTORY command is not sent now, if it is
// not: the server has yet to say whether it keeps history, or keeps none.
func (s *Session) historyHint() Event {
	switch s.support {
	case historyAsked:
		return Hint{Text: "Not sent: the server has yet to say whether it keeps history."}
	case historyNone:
		return Hint{Text: "This server keeps no history."}
	}
	return nil
}

// search asks for the messages kept that hold every word: /search WORDS.
func (s *Session) search(args string) ([]byte, Event) {
	words := ircish.SearchWords(args)
	if len(words) == 0 {
		c, _ := lookup("search")
		return nil, usage(c)
	}
	if hint := s.historyHint(); hint != nil {
		return nil, hint
	}
	query := strings.Join(words, " ")
	s.awaited = append(s.awaited, query)
	return ircish.Line(ircish.History, ircish.HistorySearch, query), nil
}

// DefaultScrollback is how many earlier messages the client shows after
// joining, and /history shows, unless told otherwise.
const DefaultScrollback = 50
