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

// historyAll is the count asked for to fill a gap: more than any server
// keeps, which gives all it has.
const historyAll = "1000000"

// joined is what follows our own JOINED: it asks who is here, and for the
// messages we have not seen.
func (s *Session) joined() (Event, []byte) {
	ev := Registered{Nick: s.nick, Again: s.rejoin != ""}
	s.rejoin = ""
	reply := ircish.Line(ircish.List)
	switch {
	case s.lastSeq > 0:
		reply = ircish.AppendLine(reply, ircish.History, ircish.HistoryAfter, strconv.FormatInt(s.lastSeq, 10), historyAll)
	case s.scrollback > 0:
		reply = ircish.AppendLine(reply, ircish.History, strconv.Itoa(s.scrollback))
	default:
		return ev, reply
	}
	s.replies++
	return ev, reply
}

// history handles a HISTORY line from the server, with its fields.
func (s *Session) history(p []string) Event {
	switch {
	case len(p) == 1 && p[0] == ircish.HistoryLive:
		s.seqs = true
		return nil
	case len(p) == 2 && p[0] == ircish.HistoryGap:
		s.gap = true
		return nil
	case len(p) == 2 && p[0] == ircish.HistoryEnd:
		n, _ := strconv.Atoi(p[1])
		return s.endReply(n)
	case len(p) < 4:
		return Unknown{Line: "HISTORY " + strings.Join(p, " ")}
	}
	seq, err := strconv.ParseInt(p[0], 10, 64)
	at, err2 := time.Parse(ircish.HistoryTime, p[1])
	if err != nil || err2 != nil || seq <= 0 {
		return Unknown{Line: "HISTORY " + strings.Join(p, " ")}
	}
	m := Earlier{Seq: seq, At: at, From: p[2], Text: p[3]}
	if s.replies > 0 {
		s.held = append(s.held, held{msg: m})
		return nil
	}
	s.lastSeq = max(s.lastSeq, seq)
	return s.message(m.From, m.Text)
}

// endReply makes the event of a HISTORY reply of n messages, which are the
// last n held, and of the lines held before it, which came live.
func (s *Session) endReply(n int) Event {
	s.replies = max(0, s.replies-1)
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
	if s.replies == 0 {
		s.plain = nil
	}
	if len(ev.Earlier) == 0 && len(ev.Live) == 0 && !ev.Gap {
		return nil
	}
	return ev
}

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
// If the nick is taken, the session says NickHeld, and the caller asks for
// it again with RetryNick, for up to NickHeldFor; then it takes our nick
// and a _. It returns nil if we never had a nick.
func (s *Session) Reconnect() []byte {
	nick := s.nick
	if nick == "" {
		nick = s.rejoin
	}
	s.nick, s.quitting, s.replies, s.held, s.gap = "", false, 0, nil, false
	clear(s.users)
	if nick == "" {
		return nil
	}
	s.rejoin, s.heldUntil = nick, s.now().Add(NickHeldFor)
	return s.register(nick)
}

// NickHeldFor is how long a session back after a reconnect waits for its
// nick: a server sees a connection lost without a word within seconds (a
// cluster, a lost server's users within lostAfter, 4s, and a second).
const NickHeldFor = 15 * time.Second

// RetryNick returns the NICK line that asks again for our nick, after
// NickHeld; nil if we are no longer waiting for it.
func (s *Session) RetryNick() []byte {
	if s.nick != "" || s.rejoin == "" || s.asked != "" {
		return nil // back, given up, or asking already
	}
	return s.register(s.rejoin)
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
	s.replies++
	return ircish.Line(ircish.History, strconv.Itoa(n)), nil
}

// DefaultScrollback is how many earlier messages the client shows after
// joining, and /history shows, unless told otherwise.
const DefaultScrollback = 50
