package client

import (
	"reflect"
	"strings"
	"testing"
)

func TestAccountInput(t *testing.T) {
	tests := []struct {
		in   string
		send string // without CRLF
		hint string // a substring of the hint
	}{
		{in: "/register correct horse ", send: "REGISTER correct horse"},
		{in: "/register  correct-horse", send: "REGISTER correct-horse"},
		{in: "/register short", hint: "Not sent: a password is 8 to 256 bytes."},
		{in: "/register " + strings.Repeat("x", 257), hint: "8 to 256 bytes"},
		{in: "/register", hint: "Usage: /register PASSWORD"},
		{in: "/register bell\a\a\a\a\a\a", hint: "Not sent: text must be UTF-8"},
		{in: "/password old battery staple", send: "PASSWORD old battery staple"},
		{in: "/password old short", hint: "8 to 256 bytes"},
		{in: "/password onlyone", hint: "Usage: /password OLD NEW"},
		{in: "/unregister battery staple", send: "UNREGISTER battery staple"},
		{in: "/unregister", hint: "Usage: /unregister PASSWORD"},
		{in: "/oper root s3cret pass", send: "OPER root s3cret pass"},
		{in: "/oper root", hint: "Usage: /oper NAME PASSWORD"},
		{in: "/kick ann", send: "KICK ann"},
		{in: "/kick  ann  spam,  again ", send: "KICK ann spam,  again"},
		{in: "/kick", hint: "Usage: /kick NICK [REASON]"},
		{in: "/ban 192.0.2.0/24 7d flood", send: "BAN 192.0.2.0/24 7d flood"},
		{in: "/ban ann forever", send: "BAN ann forever"},
		{in: "/ban ann", hint: "Usage: /ban TARGET DURATION [REASON]"},
		{in: "/unban ann", send: "UNBAN ann"},
		{in: "/unban ann now", hint: "Usage: /unban TARGET"},
		{in: "/bans", send: "BANS"},
		{in: "/bans all", hint: "Usage: /bans"},
		{in: "/mute ann 30m calm down", send: "MUTE ann 30m calm down"},
		{in: "/mute ann", hint: "Usage: /mute NICK DURATION [REASON]"},
		{in: "/unmute ann", send: "UNMUTE ann"},
		{in: "/kick ann esc\x1b[2J", hint: "Not sent"},
	}
	for _, tt := range tests {
		s := registered(t)
		send, ev := s.Input(tt.in)
		got := strings.TrimSuffix(string(send), "\r\n")
		if got != tt.send {
			t.Errorf("Input(%q) sends %q, want %q", tt.in, got, tt.send)
		}
		hint, _ := ev.(Hint)
		if tt.hint == "" && ev != nil || !strings.Contains(hint.Text, tt.hint) {
			t.Errorf("Input(%q) shows %#v, want a hint with %q", tt.in, ev, tt.hint)
		}
		if strings.Contains(hint.Text, "horse") || strings.Contains(hint.Text, "xxxxxxxx") {
			t.Errorf("Input(%q) shows the password: %q", tt.in, hint.Text)
		}
	}
}

func TestHandleAccounts(t *testing.T) {
	tests := []struct {
		line string
		want Event
	}{
		{"REGISTERED duck", NickRegistered{Nick: "duck"}},
		{"UNREGISTERED duck", NickRegistered{Nick: "duck", Again: true}},
		{"PASSWORD duck changed", PasswordChanged{Nick: "duck"}},
		{"OPER root", Operator{Name: "root"}},
		{"KICKED ann", Moderated{Verb: "KICKED", Target: "ann"}},
		{"BANNED 192.0.2.0/24 2026-12-04T18:30:00Z", Moderated{Verb: "BANNED", Target: "192.0.2.0/24", Until: "2026-12-04T18:30:00Z"}},
		{"UNBANNED ann", Moderated{Verb: "UNBANNED", Target: "ann"}},
		{"MUTED ann forever", Moderated{Verb: "MUTED", Target: "ann", Until: "forever"}},
		{"UNMUTED ann", Moderated{Verb: "UNMUTED", Target: "ann"}},
		{"LEFT ann kicked by op: spam, again", Removed{Nick: "ann", By: "op", Reason: "spam, again"}},
		{"LEFT ann kicked by op", Removed{Nick: "ann", By: "op"}},
		{"LEFT ann banned by op: flood", Removed{Nick: "ann", By: "op", Reason: "flood", Ban: true}},
		{"LEFT ann kicked by two words: x", Left{Nick: "ann", Reason: "kicked by two words: x"}},
		{"LEFT ann kicked", Left{Nick: "ann", Reason: "kicked"}},
		{"ERR NOT_OPERATOR you are not an operator", ServerError{Code: "NOT_OPERATOR", Text: "you are not an operator"}},
		{"ERR MUTED 2026-12-04T18:30:00Z", Sanction{Until: "2026-12-04T18:30:00Z"}},
		{"ERR BAD_PASSWORD wrong password", ServerError{Code: "BAD_PASSWORD", Text: "wrong password"}},
		{"BYE kicked by op: spam", Removed{Nick: "duck", By: "op", Reason: "spam", Self: true}},
		{"BYE banned by op", Removed{Nick: "duck", By: "op", Ban: true, Self: true}},
		{"BYE goodbye", Bye{Text: "goodbye"}},
	}
	for _, tt := range tests {
		s := registered(t)
		if ev, reply := s.Handle([]byte(tt.line + "\r\n")); !reflect.DeepEqual(ev, tt.want) || reply != nil {
			t.Errorf("Handle(%q) = %#v, %q; want %#v, nil", tt.line, ev, reply, tt.want)
		}
		if barred := strings.HasPrefix(tt.line, "BYE ") && tt.line != "BYE goodbye"; s.Barred() != barred {
			t.Errorf("after %q, Barred() = %v, want %v", tt.line, s.Barred(), barred)
		}
	}
}

func TestHandleBans(t *testing.T) {
	s := registered(t)
	for _, line := range []string{"BANS ann forever op spam  and more", "BANS 192.0.2.0/24 2026-12-04T18:30:00Z op"} {
		if ev, _ := s.Handle([]byte(line + "\r\n")); ev != nil {
			t.Errorf("Handle(%q) = %#v, want nothing until BANS END", line, ev)
		}
	}
	want := BanList{Bans: []BanEntry{
		{Target: "ann", Until: "forever", By: "op", Reason: "spam  and more"},
		{Target: "192.0.2.0/24", Until: "2026-12-04T18:30:00Z", By: "op"},
	}}
	if ev, _ := s.Handle([]byte("BANS END 2\r\n")); !reflect.DeepEqual(ev, want) {
		t.Errorf("Handle(BANS END 2) = %#v, want %#v", ev, want)
	}
	if ev, _ := s.Handle([]byte("BANS END 0\r\n")); !reflect.DeepEqual(ev, BanList{}) {
		t.Errorf("Handle(BANS END 0) = %#v, want an empty BanList", ev)
	}
}

// handle feeds s a server line and checks the line it sends in reply.
func handle(t *testing.T, s *Session, line, reply string) Event {
	t.Helper()
	ev, got := s.Handle([]byte(line + "\r\n"))
	if string(got) != reply {
		t.Fatalf("Handle(%q) replies %q, want %q", line, got, reply)
	}
	return ev
}

// A password given (-password-file) is sent only once the server says the
// nick is registered, and again with the NICK of a reconnect.
func TestSuppliedPassword(t *testing.T) {
	s, hello := NewSession("ann", 0)
	s.SetPassword("correct horse")
	if string(hello) != "NICK ann\r\nHISTORY LIVE\r\n" {
		t.Fatalf("NewSession sends %q, want NICK ann without the password", hello)
	}
	if ev := handle(t, s, "ERR NICK_REGISTERED the nick ann is registered: NICK ann <password>", "NICK ann correct horse\r\n"); ev != nil {
		t.Errorf("NICK_REGISTERED with a password given shows %#v, want nothing", ev)
	}
	handle(t, s, "JOINED ann", "LIST\r\n")
	if got := string(s.Reconnect()); got != "NICK ann correct horse\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() = %q, want NICK with the password", got)
	}
	handle(t, s, "JOINED ann", "LIST\r\n")
	// Renamed to a nick that is not registered: its NICK takes none.
	if send, _ := s.Input("/nick bob"); string(send) != "NICK bob\r\n" {
		t.Errorf("/nick bob sends %q", send)
	}
	handle(t, s, "RENAMED ann bob", "")
	if got := string(s.Reconnect()); got != "NICK bob\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() as bob = %q, want NICK bob alone", got)
	}
}

// A password given for a nick that is not registered is never sent.
func TestSuppliedPasswordNotNeeded(t *testing.T) {
	s, _ := NewSession("ann", 0)
	s.SetPassword("correct horse")
	handle(t, s, "JOINED ann", "LIST\r\n")
	if got := string(s.Reconnect()); got != "NICK ann\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() = %q, want NICK ann alone", got)
	}
}

// A wrong password given refuses the nick, and is not sent again.
func TestSuppliedPasswordWrong(t *testing.T) {
	s, _ := NewSession("ann", 0)
	s.SetPassword("wrong horse")
	handle(t, s, "ERR NICK_REGISTERED the nick ann is registered", "NICK ann wrong horse\r\n")
	ev := handle(t, s, "ERR BAD_PASSWORD wrong password", "")
	if _, ok := ev.(NickRefused); !ok {
		t.Fatalf("BAD_PASSWORD for our first nick = %#v, want NickRefused", ev)
	}
	s.Input("/nick ann")
	ev = handle(t, s, "ERR NICK_REGISTERED the nick ann is registered", "")
	if want := (PasswordNeeded{ServerError{"NICK_REGISTERED", "the nick ann is registered"}, "ann"}); ev != want {
		t.Errorf("NICK_REGISTERED again = %#v, want %#v", ev, want)
	}
}

// Without a password, the session says PasswordNeeded; the password the
// user gives then (ClaimNick) comes back on a reconnect.
func TestPasswordNeeded(t *testing.T) {
	s, _ := NewSession("ann", 0)
	ev := handle(t, s, "ERR NICK_REGISTERED the nick ann is registered", "")
	if _, ok := ev.(PasswordNeeded); !ok {
		t.Fatalf("NICK_REGISTERED = %#v, want PasswordNeeded", ev)
	}
	if got := string(s.ClaimNick("ann", "battery staple")); got != "NICK ann battery staple\r\n" {
		t.Errorf("ClaimNick = %q", got)
	}
	handle(t, s, "JOINED ann", "LIST\r\n")
	if got := string(s.Reconnect()); got != "NICK ann battery staple\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() = %q, want NICK with the password", got)
	}
}

// A nick registered, or its password changed, in this session is claimed
// with it on a reconnect; unregistered, without.
func TestRegisteredInSession(t *testing.T) {
	s := registered(t)
	s.Input("/register correct horse")
	handle(t, s, "REGISTERED duck", "")
	if got := string(s.Reconnect()); got != "NICK duck correct horse\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() after REGISTERED = %q", got)
	}
	handle(t, s, "JOINED duck", "LIST\r\n")
	s.Input("/password correct battery staple")
	handle(t, s, "PASSWORD duck changed", "")
	if got := string(s.Reconnect()); got != "NICK duck battery staple\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() after PASSWORD = %q", got)
	}
	handle(t, s, "JOINED duck", "LIST\r\n")
	s.Input("/unregister battery staple")
	handle(t, s, "UNREGISTERED duck", "")
	if got := string(s.Reconnect()); got != "NICK duck\r\nHISTORY LIVE\r\n" {
		t.Errorf("Reconnect() after UNREGISTERED = %q", got)
	}
}

// ERR BANNED at NICK refuses the nick and bars the session until it
// joins.
func TestBannedAtNick(t *testing.T) {
	s, _ := NewSession("ann", 0)
	ev := handle(t, s, "ERR BANNED forever flooding the room", "")
	if want := (Sanction{Ban: true, Until: "forever", Reason: "flooding the room"}); ev != want {
		t.Errorf("ERR BANNED = %#v, want %#v", ev, want)
	}
	if !s.Barred() {
		t.Error("Barred() = false after ERR BANNED before joining")
	}
	s.Input("/nick bob")
	handle(t, s, "JOINED bob", "LIST\r\n")
	if s.Barred() {
		t.Error("Barred() = true after joining")
	}
}

func TestCarriesPassword(t *testing.T) {
	for line, want := range map[string]bool{
		"REGISTER correct horse\r\n": true,
		"PASSWORD a b\r\n":           true,
		"UNREGISTER x\r\n":           true,
		"OPER root pw\r\n":           true,
		"NICK ann correct horse\r\n": true,
		"NICK ann\r\n":               false,
		"NICK ann \r\n":              false,
		"MSG REGISTER x\r\n":         false,
		"KICK ann\r\n":               false,
	} {
		if got := CarriesPassword([]byte(line)); got != want {
			t.Errorf("CarriesPassword(%q) = %v, want %v", line, got, want)
		}
	}
	for text, want := range map[string]bool{
		"/register correct horse": true,
		"/PASSWORD a b":           true,
		"/oper root pw":           true,
		"/unregister x":           true,
		"//register x":            false,
		"/nick ann":               false,
		"register x":              false,
	} {
		if got := IsSecret(text); got != want {
			t.Errorf("IsSecret(%q) = %v, want %v", text, got, want)
		}
	}
}

func TestRenderAccounts(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{NickRegistered{Nick: "ann"}, "* you registered the nick ann"},
		{NickRegistered{Nick: "ann", Again: true}, "* the nick ann is no longer registered"},
		{PasswordChanged{Nick: "ann"}, "* the password of ann is changed"},
		{Operator{Name: "root"}, "* you are an operator, as root"},
		{Moderated{Verb: "KICKED", Target: "ann"}, "* you kicked ann"},
		{Moderated{Verb: "BANNED", Target: "ann", Until: "2026-12-04T18:30:00Z"}, "* ann is banned until 2026-12-04 18:30:00 UTC"},
		{Moderated{Verb: "BANNED", Target: "10.0.0.0/8", Until: "forever"}, "* 10.0.0.0/8 is banned for good"},
		{Moderated{Verb: "UNBANNED", Target: "ann"}, "* ann is no longer banned"},
		{Moderated{Verb: "MUTED", Target: "ann", Until: "2026-12-04T18:30:00Z"}, "* ann is muted until 2026-12-04 18:30:00 UTC"},
		{Moderated{Verb: "UNMUTED", Target: "ann"}, "* ann is no longer muted"},
		{Removed{Nick: "ann", By: "op", Reason: "spam"}, "* ann was kicked by op (spam)"},
		{Removed{Nick: "ann", By: "op", Ban: true}, "* ann was banned by op"},
		{Removed{Nick: "duck", By: "op", Reason: "spam", Self: true}, "* you were kicked by op (spam)"},
		{Sanction{Ban: true, Until: "forever", Reason: "spam"}, "You are banned for good: spam."},
		{Sanction{Until: "2026-12-04T18:30:00Z"}, "You are muted until 2026-12-04 18:30:00 UTC: not sent."},
		{BanList{}, "No bans."},
		{BanList{Bans: []BanEntry{{"ann", "forever", "op", "spam"}}}, "1 ban:\n  ann for good, by op: spam"},
		{BanList{Bans: []BanEntry{{"ann", "forever", "op", ""}, {"192.0.2.0/24", "2026-12-04T18:30:00Z", "op", "x\x1b"}}},
			"2 bans:\n  ann for good, by op\n  192.0.2.0/24 until 2026-12-04 18:30:00 UTC, by op: x^["},
		{PasswordNeeded{ServerError{"NICK_REGISTERED", "x"}, "ann"}, "The nick ann is registered: give its password (-password-file FILE or IRCISH_PASSWORD), or pick another nick with /nick NAME."},
	}
	for _, tt := range tests {
		if got := (Renderer{}).Render(tt.ev); got != tt.want {
			t.Errorf("Render(%#v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestCompleteModeration(t *testing.T) {
	for before, want := range map[string][]string{
		"/kick a":  {"nn "},
		"/ban a":   {"nn "},
		"/unm":     {"ute "},
		"/reg":     {"ister "},
		"/mute bo": {"b "},
	} {
		if got, _ := Complete(before, []string{"ann", "bob"}); !reflect.DeepEqual(got, want) {
			t.Errorf("Complete(%q) = %q, want %q", before, got, want)
		}
	}
}
