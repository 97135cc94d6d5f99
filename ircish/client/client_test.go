package client

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// registered returns a session registered as duck.
func registered(t *testing.T) *Session {
	t.Helper()
	s, _ := NewSession("duck", 0)
	if ev, reply := s.Handle([]byte("JOINED duck\r\n")); ev != (Registered{Nick: "duck"}) || string(reply) != "LIST\r\n" {
		t.Fatalf("Handle(JOINED duck) = %#v, %q; want Registered, LIST", ev, reply)
	}
	return s
}

func TestNewSession(t *testing.T) {
	_, line := NewSession("duck", 50)
	if string(line) != "NICK duck\r\nHISTORY LIVE\r\n" {
		t.Errorf("NewSession lines = %q, want NICK duck and HISTORY LIVE", line)
	}
}

func TestInput(t *testing.T) {
	tests := []struct {
		in       string
		send     string // without CRLF
		hint     string // a substring of the hint
		quitting bool
	}{
		{in: "hello", send: "MSG hello"},
		{in: `don't "quote" me \o/  `, send: `MSG don't "quote" me \o/  `},
		{in: "  ", send: ""},
		{in: "", send: ""},
		{in: "//etc/passwd is a path", send: "MSG /etc/passwd is a path"},
		{in: "/nick goose", send: "NICK goose"},
		{in: "/NICK goose", send: "NICK goose"},
		{in: `/nick "goose"`, send: "NICK goose"},
		{in: "/nick", hint: "Usage: /nick NAME"},
		{in: "/nick a b", hint: "Usage: /nick NAME"},
		{in: `/nick "a b"`, hint: "Not sent: A nick is one word"},
		{in: `/nick 'open`, hint: "Usage: /nick NAME"},
		{in: "/list", send: "LIST"},
		{in: "/who", send: "LIST"},
		{in: "/list all", hint: "Usage: /list"},
		{in: "/whisper bob hi there", send: "WHISPER bob hi there"},
		{in: "/w bob  don't \"quote\" me", send: `WHISPER bob don't "quote" me`},
		{in: "/msg bob # not a comment", send: "WHISPER bob # not a comment"},
		{in: "/w 'bob' hi", send: "WHISPER bob hi"},
		{in: "/whisper bob", hint: "Usage: /whisper NAME TEXT"},
		{in: "/whisper", hint: "Usage: /whisper NAME TEXT"},
		{in: "/ping", send: "PING c1"},
		{in: "/help", hint: "/whisper NAME TEXT"},
		{in: "/quit", send: "QUIT", quitting: true},
		{in: "/exit gone fishing", send: "QUIT gone fishing", quitting: true},
		{in: "/bogus arg", hint: "There is no command /bogus"},
		{in: "/", hint: "There is no command /;"},
		{in: "bell\a", hint: "Not sent"},
		{in: "/w bob esc\x1b[2J", hint: "Not sent"},
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
		if s.Quitting() != tt.quitting {
			t.Errorf("Input(%q): Quitting() = %v, want %v", tt.in, s.Quitting(), tt.quitting)
		}
	}
}

func TestInputWithoutNick(t *testing.T) {
	s, _ := NewSession("duck", 0)
	s.Handle([]byte("ERR NICK_IN_USE the nick duck is taken"))
	for _, in := range []string{"hello", "/list", "/w bob hi"} {
		if send, ev := s.Input(in); send != nil || ev == nil {
			t.Errorf("Input(%q) without a nick = %q, %v; want only a hint", in, send, ev)
		}
	}
	for in, want := range map[string]string{"/nick goose": "NICK goose\r\n", "/quit": "QUIT\r\n", "/ping": "PING c1\r\n"} {
		if send, _ := s.Input(in); string(send) != want {
			t.Errorf("Input(%q) without a nick sends %q, want %q", in, send, want)
		}
	}
	if ev, _ := s.Handle([]byte("JOINED goose")); ev != (Registered{Nick: "goose"}) {
		t.Errorf("after /nick goose, Handle(JOINED goose) = %#v, want Registered", ev)
	}
}

func TestHandle(t *testing.T) {
	tests := []struct {
		line string
		want Event
	}{
		{"WELCOME welcome to ircish! Say NICK <name> to join, HELP for help.", nil}, // advice for telnet users
		{"JOINED alice", Joined{Nick: "alice"}},
		{"LEFT alice", Left{Nick: "alice"}},
		{"LEFT alice connection lost", Left{Nick: "alice", Reason: "connection lost"}},
		{"RENAMED alice bob", Renamed{Old: "alice", New: "bob"}},
		{"RENAMED duck goose", Renamed{Old: "duck", New: "goose", Self: true}},
		{"MSG alice hi all", Message{From: "alice", Text: "hi all"}},
		{"MSG alice hi Duck.", Message{From: "alice", Text: "hi Duck.", Mention: true}},
		{"MSG alice duck: look", Message{From: "alice", Text: "duck: look", Mention: true}},
		{"MSG alice ducks", Message{From: "alice", Text: "ducks"}},
		{"MSG duck hi duck", Message{From: "duck", Text: "hi duck", Self: true}},
		{"WHISPER bob duck psst", Whisper{From: "bob", To: "duck", Text: "psst", ToSelf: true}},
		{"WHISPER duck bob psst", Whisper{From: "duck", To: "bob", Text: "psst", FromSelf: true}},
		{"LIST alice bob duck", Users{Nicks: []string{"alice", "bob", "duck"}}},
		{"HELP NICK <nick>  choose", ServerHelp{Text: "NICK <nick>  choose"}},
		{"PONG x", Pong{Token: "x"}},
		{"PONG", Pong{}},
		{"BYE", Bye{}},
		{"BYE see you", Bye{Text: "see you"}},
		{"ERR NO_SUCH_USER no user named zed is here", ServerError{Code: "NO_SUCH_USER", Text: "no user named zed is here"}},
		{"ERR NICK_IN_USE the nick bob is taken", ServerError{Code: "NICK_IN_USE", Text: "the nick bob is taken"}},
		{"FROB x", Unknown{Line: "FROB x"}},
		{"MSG eve \x1b]0;pwned\a\x1b[2J\x9b1m", Message{From: "eve", Text: "^[]0;pwned^G^[[2J\ufffd1m"}},
		{"MSG eve bad\xffutf8", Message{From: "eve", Text: "bad\ufffdutf8"}},
	}
	for _, tt := range tests {
		s := registered(t)
		got, _ := s.Handle([]byte(tt.line + "\r\n"))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Handle(%q) = %#v, want %#v", tt.line, got, tt.want)
		}
	}
}

func TestHandleNickRefused(t *testing.T) {
	s, _ := NewSession("duck", 0)
	got, _ := s.Handle([]byte("ERR NICK_INVALID a nick is one word"))
	want := NickRefused{ServerError{Code: "NICK_INVALID", Text: "a nick is one word"}}
	if got != want {
		t.Errorf("Handle(ERR NICK_INVALID) before registering = %#v, want %#v", got, want)
	}
}

func TestPingRTT(t *testing.T) {
	s := registered(t)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	line, _ := s.Input("/ping")
	now = now.Add(1500 * time.Microsecond)
	token := strings.TrimSpace(strings.TrimPrefix(string(line), "PING "))
	if ev, _ := s.Handle([]byte("PONG " + token)); ev != (Pong{Token: token, RTT: 1500 * time.Microsecond}) {
		t.Errorf("Handle(PONG %s) = %#v, want an RTT of 1.5ms", token, ev)
	}
}

func TestUsersTracked(t *testing.T) {
	s := registered(t)
	for _, line := range []string{"LIST alice bob duck", "JOINED cid", "LEFT alice", "RENAMED bob Bobby"} {
		s.Handle([]byte(line))
	}
	got := s.Others()
	slices.Sort(got)
	if want := []string{"Bobby", "cid"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Others() = %q, want %q", got, want)
	}
}

func TestRenderPlain(t *testing.T) {
	tests := []struct {
		ev   Event
		want string
	}{
		{Registered{Nick: "duck"}, "* you have joined as duck\n" + CommandSummary()},
		{Registered{Nick: "duck", Again: true}, "* reconnected as duck"},
		{NickHeld{Nick: "duck"}, "* the nick duck is still taken, likely by our lost connection; waiting up to 15s for it"},
		{Joined{Nick: "alice"}, "* alice has joined"},
		{Left{Nick: "alice"}, "* alice has left"},
		{Left{Nick: "alice", Reason: "connection lost"}, "* alice has left (connection lost)"},
		{Renamed{Old: "duck", New: "goose"}, "* duck is now known as goose"},
		{Renamed{Old: "duck", New: "goose", Self: true}, "* you are now known as goose"},
		{Message{From: "alice", Text: "hi"}, "<alice> hi"},
		{Message{From: "duck", Text: "hi", Self: true}, "<duck> hi"},
		{Whisper{From: "bob", To: "duck", Text: "hi", ToSelf: true}, "[bob → you] hi"},
		{Whisper{From: "duck", To: "bob", Text: "hi", FromSelf: true}, "[you → bob] hi"},
		{Users{Nicks: []string{"alice", "bob", "duck"}}, "3 users: alice, bob, duck"},
		{Users{Nicks: []string{"duck"}}, "1 user: duck"},
		{ServerHelp{Text: "LIST  list everyone"}, "  LIST  list everyone"},
		{Pong{Token: "x"}, "* pong x"},
		{Pong{Token: "c1", RTT: 1234567 * time.Nanosecond}, "* pong from the server in 1.235ms"},
		{Bye{}, "* disconnected"},
		{Bye{Text: "the server is shutting down"}, "* disconnected: the server is shutting down"},
		{ServerError{Code: "NO_SUCH_USER", Text: "no user named zed is here"}, "No user named zed is here."},
		{ServerError{Code: "NICK_INVALID", Text: "a nick is 1 to 32 letters, digits, _ - or ."}, "A nick is 1 to 32 letters, digits, _ - or ."},
		{ServerError{Code: "NOT_REGISTERED", Text: "say NICK <name> first"}, "Choose a nick first with /nick NAME."},
		{NickRefused{ServerError{Code: "NICK_IN_USE", Text: "the nick duck is taken"}}, "The nick duck is taken. Pick another with /nick NAME."},
		{Unknown{Line: "FROB x"}, "? FROB x"},
		{Hint{Text: "esc \x1b[2J"}, "esc ^[[2J"},
		{Hint{Text: "two\nlines\r"}, "two\nlines^M"},
	}
	for _, tt := range tests {
		if got := (Renderer{}).Render(tt.ev); got != tt.want {
			t.Errorf("Render(%#v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

// TestRenderMarkSelf checks that our own messages stand out on a terminal
// without colours, and only ours.
func TestRenderMarkSelf(t *testing.T) {
	r := Renderer{MarkSelf: true}
	tests := []struct {
		ev   Event
		want string
	}{
		{Message{From: "duck", Text: "hi", Self: true}, "*<duck> hi"},
		{Message{From: "alice", Text: "hi"}, "<alice> hi"},
		{Message{From: "alice", Text: "hi duck", Mention: true}, "<alice> hi duck"},
		{Whisper{From: "duck", To: "bob", Text: "hi", FromSelf: true}, "[you → bob] hi"},
	}
	for _, tt := range tests {
		if got := r.Render(tt.ev); got != tt.want {
			t.Errorf("Render(%#v) = %q, want %q", tt.ev, got, tt.want)
		}
	}
}

func TestRenderColor(t *testing.T) {
	r := Renderer{Color: true}
	c := NickColor("alice")
	if got, want := r.Render(Message{From: "alice", Text: "hi"}), "<\x1b["+c+"malice\x1b[0m> hi"; got != want {
		t.Errorf("Render(alice's message) = %q, want %q", got, want)
	}
	if got := r.Render(Message{From: "duck", Text: "hi", Self: true}); !strings.HasPrefix(got, "\x1b[7m<") {
		t.Errorf("Render(our message) = %q, want it in reverse video", got)
	}
	r.MarkSelf = true
	if got := r.Render(Message{From: "duck", Text: "hi", Self: true}); !strings.HasPrefix(got, "*\x1b[7m<") {
		t.Errorf("Render(our message) with MarkSelf = %q, want a * and reverse video", got)
	}
	if got := r.Render(Message{From: "alice", Text: "hi duck", Mention: true}); !strings.HasSuffix(got, "\x1b[1;33mhi duck\x1b[0m") {
		t.Errorf("Render(a mention) = %q, want the text highlighted", got)
	}
	if got := r.Render(Message{From: "ali\x1bce", Text: "hi"}); strings.Contains(got, "\x1bce") {
		t.Errorf("Render(a nick with ESC) = %q: the escape got through", got)
	}
	if NickColor("Alice") != c || NickColor("ALICE") != c {
		t.Errorf("NickColor differs by case: %s, %s, %s", c, NickColor("Alice"), NickColor("ALICE"))
	}
}

func TestRenderClock(t *testing.T) {
	r := Renderer{Clock: func() time.Time { return time.Date(2026, 1, 2, 12, 3, 4, 0, time.UTC) }}
	got := r.Render(Registered{Nick: "duck"})
	want := "12:03 * you have joined as duck\n12:03 " + CommandSummary()
	if got != want {
		t.Errorf("Render with a clock = %q, want %q", got, want)
	}
}

func TestNeutralise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[31mred", "^[[31mred"},
		{"nul\x00 del\x7f", "nul^@ del^?"},
		{"c1\u009bcsi", "c1\ufffdcsi"},
		{"bad\xc3", "bad\ufffd"},
		{"日本語 ok", "日本語 ok"},
		{"<\u202eeve> said", "<<U+202E>eve> said"},                 // RIGHT-TO-LEFT OVERRIDE
		{"a\u2066b\u2069c\u200ed", "a<U+2066>b<U+2069>c<U+200E>d"}, // isolates, marks
		{"zero\u200bwidth\ufeff", "zero<U+200B>width<U+FEFF>"},
		{"\u3164", "<U+3164>"},                 // HANGUL FILLER
		{"👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"}, // joiners stay: emoji need them
		{"\x1b\u202e", "^[<U+202E>"},
	}
	for _, tt := range tests {
		if got := string(Neutralise([]byte(tt.in))); got != tt.want {
			t.Errorf("Neutralise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestComplete(t *testing.T) {
	nicks := []string{"alice", "Albert", "bob"}
	tests := []struct {
		before string
		want   []string
		n      int
	}{
		{"/wh", []string{"isper ", "o "}, 3},
		{"/w", []string{" ", "ho ", "hisper "}, 2},
		{"/q", []string{"uit "}, 2},
		{"al", []string{"bert: ", "ice: "}, 2},
		{"AL", []string{"bert: ", "ice: "}, 2},
		{"b", []string{"ob: "}, 1},
		{"/w b", []string{"ob "}, 1},
		{"/msg al", []string{"bert ", "ice "}, 2},
		{"hello b", nil, 0},
		{"", nil, 0},
		{"/w bob hi", nil, 0},
	}
	for _, tt := range tests {
		got, n := Complete(tt.before, nicks)
		slices.Sort(tt.want)
		if !reflect.DeepEqual(got, tt.want) || got != nil && n != tt.n {
			t.Errorf("Complete(%q) = %q, %d; want %q, %d", tt.before, got, n, tt.want, tt.n)
		}
	}
}
