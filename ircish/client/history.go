package client

import (
	"strconv"
	"time"

	"ircish/ircish"
)

// The client's side of history: after joining it asks for the last
// messages said (its scrollback), or, back after a lost connection, for
// those said since the last one it saw, which it knows by seq because it
// asks the server for HISTORY LIVE. A reply may repeat messages that came
// live while it was on its way; those are shown once.

// maxPlain bounds the messages remembered to recognise in a reply.
const maxPlain = 1000

// joined is what follows our own JOINED: it asks who is here, and for the
// messages we have not seen.
func (s *Session) joined() (Event, []byte) {
	ev := Registered{Nick: s.nick, Again: s.rejoin != ""}
	s.rejoin = ""
	reply := ircish.Line(ircish.List)
	switch {
	case s.lastSeq > 0:
		reply = ircish.AppendLine(reply, ircish.History, "AFTER", strconv.FormatInt(s.lastSeq, 10))
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
	case len(p) == 1 && p[0] == "LIVE":
		s.seqs = true
		return nil
	case len(p) == 2 && p[0] == "GAP":
		s.gap = true
		return nil
	case len(p) == 2 && p[0] == "END":
		n, _ := strconv.Atoi(p[1])
		return s.endReply(n)
	case len(p) < 4:
		return Unknown{Line: "HISTORY " + joinFields(p)}
	}
	seq, err := strconv.ParseInt(p[0], 10, 64)
	at, err2 := time.Parse(time.RFC3339, p[1])
	if err != nil || err2 != nil {
		return Unknown{Line: "HISTORY " + joinFields(p)}
	}
	if s.replies > 0 {
		s.reply = append(s.reply, Earlier{Seq: seq, At: at, From: p[2], Text: p[3]})
		return nil
	}
	s.lastSeq = max(s.lastSeq, seq)
	return s.message(p[2], p[3])
}

// endReply makes the event of a HISTORY reply of n messages, and of the
// live messages that came while it was asked for, before it.
func (s *Session) endReply(n int) Event {
	s.replies = max(0, s.replies-1)
	n = min(n, len(s.reply))
	live, earlier := s.reply[:len(s.reply)-n], s.reply[len(s.reply)-n:]
	ev := History{Gap: s.gap}
	seen := make(map[int64]bool, len(live))
	for _, m := range live {
		seen[m.Seq] = true
		ev.Live = append(ev.Live, s.message(m.From, m.Text))
	}
	for _, m := range earlier {
		if !seen[m.Seq] && !s.sawPlain(m) {
			ev.Earlier = append(ev.Earlier, m)
		}
	}
	for _, m := range s.reply {
		s.lastSeq = max(s.lastSeq, m.Seq)
	}
	s.reply, s.gap = nil, false
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
			s.plain = append(s.plain[:i], s.plain[i+1:]...)
			return true
		}
	}
	return false
}

// Reconnect starts over on a new connection after the last one was lost.
// It returns the lines to send first: they register again under our nick
// (or, if someone took it meanwhile, our nick and a _), after which the
// session asks for the messages said while we were away. It returns nil
// if we never had a nick.
func (s *Session) Reconnect() []byte {
	nick := s.nick
	if nick == "" {
		nick = s.rejoin
	}
	s.nick, s.quitting, s.replies, s.reply, s.gap = "", false, 0, nil, false
	clear(s.users)
	if nick == "" {
		return nil
	}
	s.rejoin = nick
	return s.register(nick)
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

func joinFields(p []string) string {
	var b []byte
	for i, f := range p {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, f...)
	}
	return string(b)
}
