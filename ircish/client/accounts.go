package client

import (
	"strings"

	"ircish/ircish"
	"ircish/ircish/password"
)

// The client's side of registered nicks and of operators (issue 26).
//
// A registered nick takes its password in NICK. The session first asks
// for a nick without one, as a nick that is not registered takes none
// ("NICK ann pw" would ask for the invalid nick "ann pw"); if the server
// says NICK_REGISTERED, it sends the password it was given for the nick
// it started with (SetPassword), or says PasswordNeeded so that the
// caller asks the user. Once a password got us a nick, or we registered
// it, the session keeps it, in memory only, and a reconnect's NICK
// carries it, so that it logs in again by itself.

// SetPassword gives the password of the nick the session starts with,
// sent only if the server says that nick is registered. Call it before
// handling the first line.
func (s *Session) SetPassword(pw string) {
	s.supplied = pw
}

// ClaimNick returns the NICK line that claims the registered nick with
// pw, as the answer to PasswordNeeded.
func (s *Session) ClaimNick(nick, pw string) []byte {
	if s.nick == "" {
		s.asked = nick
	}
	return s.claimNick(nick, pw)
}

// Barred reports whether the server banned or kicked us on this
// connection and we are not in the room: a reconnect would be refused,
// or would defy an operator, so the caller does not make one.
func (s *Session) Barred() bool { return s.barred }

// claimNick returns the NICK line for nick, with pw if not "", and
// remembers what it asked for until the answer.
func (s *Session) claimNick(nick, pw string) []byte {
	s.claim, s.claimPw = nick, pw
	return ircish.Line(ircish.Nick, nick, pw)
}

// passwordFor returns the password we know for nick: the one our own
// registered nick was claimed or registered with.
func (s *Session) passwordFor(nick string) string {
	if s.account != "" && ircish.FoldNick(nick) == ircish.FoldNick(s.account) {
		return s.password
	}
	return ""
}

// claimed notes that the server gave us nick, with the password our NICK
// carried if any: the one to send again on a reconnect.
func (s *Session) claimed(nick string) {
	if s.claimPw != "" || ircish.FoldNick(nick) != ircish.FoldNick(s.account) {
		s.account, s.password = nick, s.claimPw
	}
	if s.password == "" {
		s.account = ""
	}
	s.claim, s.claimPw, s.barred = "", "", false
}

// accountLine turns a reply about accounts or moderation into its event;
// ok is false for a verb it does not know.
func (s *Session) accountLine(m ircish.Message) (ev Event, ok bool) {
	p := func(i int) string {
		if i < len(m.Params) {
			return m.Params[i]
		}
		return ""
	}
	switch m.Verb {
	case ircish.Registered:
		s.account, s.password = p(0), s.registering
		s.registering = ""
		return NickRegistered{Nick: p(0)}, true
	case ircish.Unregistered:
		s.account, s.password = "", ""
		return NickRegistered{Nick: p(0), Again: true}, true
	case ircish.Password:
		s.account, s.password = p(0), s.newPassword
		s.newPassword = ""
		return PasswordChanged{Nick: p(0)}, true
	case ircish.Oper:
		return Operator{Name: p(0)}, true
	case ircish.Kicked, ircish.Unbanned, ircish.Unmuted:
		return Moderated{Verb: m.Verb, Target: p(0)}, true
	case ircish.Banned, ircish.Muted:
		return Moderated{Verb: m.Verb, Target: p(0), Until: p(1)}, true
	case ircish.Bans:
		if len(m.Params) == 2 && m.Params[0] == "END" {
			ev := BanList{Bans: s.bans}
			s.bans = nil
			return ev, true
		}
		if len(s.bans) < maxHeld {
			s.bans = append(s.bans, BanEntry{Target: p(0), Until: p(1), By: p(2), Reason: p(3)})
		}
		return nil, true
	}
	return nil, false
}

// accountError turns an ERR about nicks, passwords or moderation into its
// event; ok is false for other codes.
func (s *Session) accountError(e ServerError) (ev Event, reply []byte, ok bool) {
	claim, claimPw := s.claim, s.claimPw
	switch e.Code {
	case ircish.CodeNickInUse, ircish.CodeNickInvalid, ircish.CodeTimeout:
		s.claim, s.claimPw = "", ""
		return nil, nil, false
	case ircish.CodeNickRegistered:
		s.claim, s.claimPw = "", ""
		if claim == "" || claimPw != "" {
			break
		}
		if s.supplied != "" && ircish.FoldNick(claim) == ircish.FoldNick(s.start) {
			return nil, s.claimNick(claim, s.supplied), true
		}
		if s.nick == "" {
			s.asked = ""
		}
		return PasswordNeeded{ServerError: e, Nick: claim}, nil, true
	case ircish.CodeBadPassword, ircish.CodeTooMany:
		if claimPw == "" {
			break // the answer to PASSWORD or UNREGISTER
		}
		// Never send a refused password again, which would count
		// towards the server's limit on guesses.
		if claimPw == s.supplied {
			s.supplied = ""
		}
		if claimPw == s.password {
			s.account, s.password = "", ""
		}
		s.claim, s.claimPw = "", ""
		if s.nick == "" && s.asked != "" {
			s.asked = ""
			return NickRefused{e}, nil, true
		}
	case ircish.CodeBanned:
		until, reason, _ := strings.Cut(e.Text, " ")
		s.claim, s.claimPw = "", ""
		if s.nick == "" {
			// Refused at NICK, or on connecting, which the server
			// closes after it.
			s.asked, s.barred = "", true
		}
		return Sanction{Ban: true, Until: until, Reason: reason}, nil, true
	case ircish.CodeMuted:
		until, _, _ := strings.Cut(e.Text, " ")
		return Sanction{Until: until}, nil, true
	}
	return e, nil, true
}

// removal reads the reason of a LEFT, or the text of our BYE, that says
// an operator removed someone: "kicked by <op>: <reason>", "banned by
// <op>", and so on. ok is false for any other reason.
func removal(text string) (by, reason string, ban, ok bool) {
	rest, kicked := strings.CutPrefix(text, "kicked by ")
	if !kicked {
		if rest, ban = strings.CutPrefix(text, "banned by "); !ban {
			return "", "", false, false
		}
	}
	by, reason, _ = strings.Cut(rest, ": ")
	if ircish.CheckNick(by) != nil {
		return "", "", false, false
	}
	return by, reason, ban, true
}

// CarriesPassword reports whether line, a protocol line the client
// sends, holds a password: REGISTER, PASSWORD, UNREGISTER, OPER, or a NICK
// with one (the client sends no other NICK with a space in it).
func CarriesPassword(line []byte) bool {
	m, err := ircish.ParseClientLine(ircish.TrimEOL(line))
	if err != nil {
		return false
	}
	switch m.Verb {
	case ircish.Register, ircish.Password, ircish.Unregister, ircish.Oper:
		return true
	case ircish.Nick:
		return len(m.Params) > 0 && strings.Contains(strings.TrimRight(m.Params[0], " "), " ")
	}
	return false
}

// IsSecret reports whether text, a line typed, holds a password: a
// terminal keeps it out of its input history.
func IsSecret(text string) bool {
	if !strings.HasPrefix(text, "/") || strings.HasPrefix(text, "//") {
		return false
	}
	head, _, _ := strings.Cut(text[1:], " ")
	c, ok := lookup(head)
	return ok && c.secret
}

// cutWords returns the first n space-separated words of args and the rest
// of it, trimmed of spaces; ok is false if there are fewer than n words.
func cutWords(args string, n int) (w []string, rest string, ok bool) {
	rest = strings.TrimLeft(args, " ")
	for range n {
		var word string
		word, rest, _ = strings.Cut(rest, " ")
		if word == "" {
			return nil, "", false
		}
		w = append(w, word)
		rest = strings.TrimLeft(rest, " ")
	}
	return w, strings.TrimRight(rest, " "), true
}

// checkPassword returns a hint if pw would be refused as a password.
func checkPassword(pw string) Event {
	if len(pw) < password.MinLen || len(pw) > password.MaxLen {
		return Hint{Text: "Not sent: a password is 8 to 256 bytes."}
	}
	if ircish.CheckText([]byte(pw)) != nil {
		return notText
	}
	return nil
}

// registerNick registers our nick: /register PASSWORD, the rest of the
// line.
func (s *Session) registerNick(args string) ([]byte, Event) {
	pw := strings.Trim(args, " ")
	if pw == "" {
		c, _ := lookup("register")
		return nil, usage(c)
	}
	if hint := checkPassword(pw); hint != nil {
		return nil, hint
	}
	s.registering = pw
	return ircish.Line(ircish.Register, pw), nil
}

// unregisterNick frees our nick: /unregister PASSWORD.
func (s *Session) unregisterNick(args string) ([]byte, Event) {
	pw := strings.Trim(args, " ")
	if pw == "" {
		c, _ := lookup("unregister")
		return nil, usage(c)
	}
	if ircish.CheckText([]byte(pw)) != nil {
		return nil, notText
	}
	return ircish.Line(ircish.Unregister, pw), nil
}

// changePassword changes our nick's password: /password OLD NEW, the old
// one a word, the new one the rest of the line.
func (s *Session) changePassword(args string) ([]byte, Event) {
	w, next, ok := cutWords(args, 1)
	if !ok || next == "" {
		c, _ := lookup("password")
		return nil, usage(c)
	}
	if hint := checkPassword(next); hint != nil {
		return nil, hint
	}
	if ircish.CheckText([]byte(w[0])) != nil {
		return nil, notText
	}
	s.newPassword = next
	return ircish.Line(ircish.Password, w[0], next), nil
}

// oper makes us an operator: /oper NAME PASSWORD.
func (s *Session) oper(args string) ([]byte, Event) {
	w, pw, ok := cutWords(args, 1)
	if !ok || pw == "" {
		c, _ := lookup("oper")
		return nil, usage(c)
	}
	if ircish.CheckText([]byte(args)) != nil {
		return nil, notText
	}
	return ircish.Line(ircish.Oper, w[0], pw), nil
}

// moderate runs an operator's command: the verb, its n words, and the
// rest of the line as a reason if reason, else nothing more.
func (s *Session) moderate(name, verb string, n int, reason bool, args string) ([]byte, Event) {
	w, rest, ok := cutWords(args, n)
	if !ok || !reason && rest != "" {
		c, _ := lookup(name)
		return nil, usage(c)
	}
	if ircish.CheckText([]byte(args)) != nil {
		return nil, notText
	}
	return ircish.Line(verb, append(w, rest)...), nil
}

func (s *Session) kick(args string) ([]byte, Event) {
	return s.moderate("kick", ircish.Kick, 1, true, args)
}

func (s *Session) ban(args string) ([]byte, Event) {
	return s.moderate("ban", ircish.Ban, 2, true, args)
}

func (s *Session) unban(args string) ([]byte, Event) {
	return s.moderate("unban", ircish.Unban, 1, false, args)
}

func (s *Session) bansList(args string) ([]byte, Event) {
	return s.moderate("bans", ircish.Bans, 0, false, args)
}

func (s *Session) mute(args string) ([]byte, Event) {
	return s.moderate("mute", ircish.Mute, 2, true, args)
}

func (s *Session) unmute(args string) ([]byte, Event) {
	return s.moderate("unmute", ircish.Unmute, 1, false, args)
}
