package ircish

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// show prints a message with its field boundaries visible, which String
// would hide.
func show(m Message) string {
	return fmt.Sprintf("{%q %q}", m.Verb, m.Params)
}

// sameMessage reports whether a and b have the same verb and fields; a nil
// and an empty field list are the same.
func sameMessage(a, b Message) bool {
	return a.Verb == b.Verb && slices.Equal(a.Params, b.Params)
}

func msg(verb string, params ...string) Message {
	return Message{Verb: verb, Params: params}
}

// clientLines are lines as a client sends them, without the terminator,
// and what they parse to. The fuzz target is seeded from them.
var clientLines = []struct {
	line string
	want Message
}{
	// Every verb, and verbs in any case.
	{"NICK ada", msg(Nick, "ada")},
	{"nick ada", msg(Nick, "ada")},
	{"NiCk ada", msg(Nick, "ada")},
	{"MSG hello", msg(Msg, "hello")},
	{"msg hello", msg(Msg, "hello")},
	{"WHISPER bob psst", msg(Whisper, "bob", "psst")},
	{"whisper bob psst", msg(Whisper, "bob", "psst")},
	{"LIST", msg(List)},
	{"list", msg(List)},
	{"HELP", msg(Help)},
	{"help msg", msg(Help, "msg")},
	{"HELP msg ", msg(Help, "msg")},
	{"HELP msg x", msg(Help, "msg", "x")},
	{"PING", msg(Ping)},
	{"PING 42", msg(Ping, "42")},
	{"QUIT", msg(Quit)},
	{"quit bye all", msg(Quit, "bye all")},

	// A nick is the rest of the line, so that a two-word nick is seen
	// whole, and refused by CheckNick, rather than cut short.
	{"NICK a b", msg(Nick, "a b")},
	{"NICK   ada", msg(Nick, "ada")},
	{"NICK ada ", msg(Nick, "ada ")},
	{"NICK ÄDA", msg(Nick, "ÄDA")},

	// Missing fields: fewer params, never empty ones.
	{"NICK", msg(Nick)},
	{"NICK    ", msg(Nick)},
	{"MSG", msg(Msg)},
	{"MSG ", msg(Msg)},
	{"WHISPER", msg(Whisper)},
	{"WHISPER bob", msg(Whisper, "bob")},
	{"WHISPER bob   ", msg(Whisper, "bob")},
	{"QUIT   ", msg(Quit)},

	// Runs of spaces separate the verb and fixed fields; leading spaces
	// before the verb are skipped.
	{"MSG    hello", msg(Msg, "hello")},
	{"WHISPER    bob     psst", msg(Whisper, "bob", "psst")},
	{"   MSG hello", msg(Msg, "hello")},

	// Free text is verbatim: quotes, apostrophes, backslashes, #, inner
	// and trailing runs of spaces, TABs, any script.
	{`MSG don't "quote" me \o/`, msg(Msg, `don't "quote" me \o/`)},
	{`MSG #not-a-comment # either`, msg(Msg, `#not-a-comment # either`)},
	{`MSG C:\path\to "x" 'y'`, msg(Msg, `C:\path\to "x" 'y'`)},
	{"MSG hello    world", msg(Msg, "hello    world")},
	{"MSG trailing   ", msg(Msg, "trailing   ")},
	{"MSG \ttabbed\t", msg(Msg, "\ttabbed\t")},
	{"MSG ünïcödé 日本語 🎉", msg(Msg, "ünïcödé 日本語 🎉")},
	{`WHISPER bob it's "fine"  \n  `, msg(Whisper, "bob", `it's "fine"  \n  `)},
	{"WHISPER bob  two  spaces", msg(Whisper, "bob", "two  spaces")},
	{"QUIT see you  later ", msg(Quit, "see you  later ")},
	{"PING a b  c", msg(Ping, "a b  c")},

	// LIST takes words only, whatever follows it.
	{"LIST a  b c ", msg(List, "a", "b", "c")},
	{"LIST   ", msg(List)},

	// Unknown verbs come back upper-cased with the rest as one field, so
	// the server can name them in UNKNOWN_COMMAND.
	{"FOO", msg("FOO")},
	{"foo bar  baz ", msg("FOO", "bar  baz ")},
	{"fóo x", msg("FóO", "x")}, // only ASCII letters are upper-cased
	{"pıng x", msg("PıNG", "x")},
	{"JOINED ada", msg(Joined, "ada")}, // a server verb, unknown from clients
	{"MSGX hi", msg("MSGX", "hi")},

	// TAB is not a separator.
	{"MSG\thello", msg("MSG\tHELLO")},

	// An empty line has an empty verb; the server skips it before parsing.
	{"", msg("")},
	{"   ", msg("")},
}

func TestParseClientLine(t *testing.T) {
	for _, tt := range clientLines {
		got, err := ParseClientLine([]byte(tt.line))
		if err != nil || !sameMessage(got, tt.want) {
			t.Errorf("ParseClientLine(%q) = %s, %v, want %s, nil", tt.line, show(got), err, show(tt.want))
		}
	}
}

// serverLines are lines as the server sends them, without CRLF.
var serverLines = []struct {
	line string
	want Message
}{
	{"WELCOME welcome to ircish! Say NICK <name> to join, HELP for help.",
		msg(Welcome, "welcome to ircish! Say NICK <name> to join, HELP for help.")},
	{"JOINED ada", msg(Joined, "ada")},
	{"LEFT ada", msg(Left, "ada")},
	{"LEFT ada connection lost", msg(Left, "ada", "connection lost")},
	{"LEFT ada  it's  late ", msg(Left, "ada", "it's  late ")},
	{"RENAMED ada Ada", msg(Renamed, "ada", "Ada")},
	{"MSG ada hello", msg(Msg, "ada", "hello")},
	{`MSG ada don't "quote" me \o/  `, msg(Msg, "ada", `don't "quote" me \o/  `)},
	{"WHISPER ada bob psst  hi", msg(Whisper, "ada", "bob", "psst  hi")},
	{"LIST", msg(List)},
	{"LIST ada bob carol", msg(List, "ada", "bob", "carol")},
	{"HELP MSG <text>             say text to everyone", msg(Help, "MSG <text>             say text to everyone")},
	{"PONG", msg(Pong)},
	{"PONG tok en", msg(Pong, "tok en")},
	{"BYE", msg(Bye)},
	{"BYE the server is shutting down", msg(Bye, "the server is shutting down")},
	{"ERR NICK_IN_USE the nick ada is taken", msg(Err, CodeNickInUse, "the nick ada is taken")},
	{"ERR FLOOD", msg(Err, CodeFlood)},
	{"err bad_text x", msg(Err, "bad_text", "x")}, // the verb is case-insensitive, fields are not
	{"msg ada hi", msg(Msg, "ada", "hi")},
	{"NICK ada", msg(Nick, "ada")}, // a client verb, unknown from the server

	// Operators' replies.
	{"OPER root", msg(Oper, "root")},
	{"KICKED ann", msg(Kicked, "ann")},
	{"BANNED 192.0.2.0/24 2026-12-04T18:30:00Z", msg(Banned, "192.0.2.0/24", "2026-12-04T18:30:00Z")},
	{"BANNED ann forever", msg(Banned, "ann", "forever")},
	{"UNBANNED ann", msg(Unbanned, "ann")},
	{"BANS ann forever op spam  and more ", msg(Bans, "ann", "forever", "op", "spam  and more ")},
	{"BANS END 2", msg(Bans, "END", "2")},
	{"MUTED ann 2026-12-04T18:30:00Z", msg(Muted, "ann", "2026-12-04T18:30:00Z")},
	{"UNMUTED ann", msg(Unmuted, "ann")},
	{"ERR BANNED forever spam", msg(Err, CodeBanned, "forever spam")},
}

func TestParseServerLine(t *testing.T) {
	for _, tt := range serverLines {
		got, err := ParseServerLine([]byte(tt.line))
		if err != nil || !sameMessage(got, tt.want) {
			t.Errorf("ParseServerLine(%q) = %s, %v, want %s, nil", tt.line, show(got), err, show(tt.want))
		}
	}
}

// badLines hold text the protocol refuses. The fuzz target is seeded from
// them.
var badLines = []string{
	"MSG a\x00b",
	"MSG a\rb",
	"MSG hi\r",
	"MSG a\nb",
	"MSG \x1b[2J",
	"MSG \x1b]0;pwned\x07",
	"MSG \x7f",
	"MSG \u0085",
	"MSG \u009b31m",
	"MSG \xff",
	"MSG \xc0\xaf",
	"MSG \xed\xa0\x80",
	"NICK a\x00",
	"\x00",
	"WHISPER bob \x08\x08\x08",
	"QUIT \xe2\x82",
}

func TestParseBadText(t *testing.T) {
	for _, line := range badLines {
		for _, parse := range []struct {
			name string
			f    func([]byte) (Message, error)
		}{{"ParseClientLine", ParseClientLine}, {"ParseServerLine", ParseServerLine}} {
			got, err := parse.f([]byte(line))
			if e, ok := AsError(err); !ok || e.Code != CodeBadText {
				t.Errorf("%s(%q) = %s, %v, want error %s", parse.name, line, show(got), err, CodeBadText)
			}
		}
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		verb   string
		params []string
		want   string
	}{
		{Pong, nil, "PONG\r\n"},
		{Joined, []string{"ada"}, "JOINED ada\r\n"},
		{Msg, []string{"ada", "hello  world "}, "MSG ada hello  world \r\n"},
		{Whisper, []string{"ada", "bob", `it's "x"`}, "WHISPER ada bob it's \"x\"\r\n"},
		{List, []string{"ada bob carol"}, "LIST ada bob carol\r\n"},
		// Empty trailing params are dropped, so LEFT without a reason and
		// PONG without a token come out without a trailing space.
		{Left, []string{"ada", ""}, "LEFT ada\r\n"},
		{Pong, []string{""}, "PONG\r\n"},
		{Err, []string{"", ""}, "ERR\r\n"},
		// Only trailing ones: an empty field in the middle is kept.
		{"X", []string{"", "a"}, "X  a\r\n"},
	}
	for _, tt := range tests {
		if got := string(Line(tt.verb, tt.params...)); got != tt.want {
			t.Errorf("Line(%q, %q) = %q, want %q", tt.verb, tt.params, got, tt.want)
		}
		prefix := "LIST a\r\n"
		if got := string(AppendLine([]byte(prefix), tt.verb, tt.params...)); got != prefix+tt.want {
			t.Errorf("AppendLine(%q, %q, %q) = %q, want %q", prefix, tt.verb, tt.params, got, prefix+tt.want)
		}
		m := Message{tt.verb, tt.params}
		if got, want := m.String(), strings.TrimSuffix(tt.want, "\r\n"); got != want {
			t.Errorf("%s.String() = %q, want %q", show(m), got, want)
		}
		if got := string(m.Append([]byte(prefix))); got != prefix+tt.want {
			t.Errorf("%s.Append(%q) = %q, want %q", show(m), prefix, got, prefix+tt.want)
		}
	}
}

func TestAppendLineNoAlloc(t *testing.T) {
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendLine(buf[:0], Msg, "ada", "hello world")
	})
	if allocs != 0 {
		t.Errorf("AppendLine into a buffer with room: %v allocations, want 0", allocs)
	}
}

func TestErrorLine(t *testing.T) {
	e := NewError(CodeNoSuchUser, "no user named bob is here")
	if got, want := string(e.Line()), "ERR NO_SUCH_USER no user named bob is here\r\n"; got != want {
		t.Errorf("Error.Line() = %q, want %q", got, want)
	}
	m, err := ParseServerLine(TrimEOL(e.Line()))
	if want := msg(Err, CodeNoSuchUser, "no user named bob is here"); err != nil || !sameMessage(m, want) {
		t.Errorf("ParseServerLine(%q) = %s, %v, want %s, nil", e.Line(), show(m), err, show(want))
	}
}

// TestRoundTrip formats each parsed line and parses it again: the result
// is the same message, and formatting is stable.
func TestRoundTrip(t *testing.T) {
	check := func(name string, parse func([]byte) (Message, error), line string) {
		m, err := parse([]byte(line))
		if err != nil {
			t.Errorf("%s(%q): %v", name, line, err)
			return
		}
		formatted := m.Append(nil)
		if !strings.HasSuffix(string(formatted), "\r\n") {
			t.Errorf("%s.Append(nil) = %q, want it to end in CRLF", show(m), formatted)
		}
		again, err := parse(TrimEOL(formatted))
		if err != nil || !sameMessage(again, m) {
			t.Errorf("%s(%q) = %s, %v, want %s, nil (from %q)", name, formatted, show(again), err, show(m), line)
		}
		if again.String() != m.String() {
			t.Errorf("formatting %s twice: %q, then %q", show(m), m.String(), again.String())
		}
	}
	for _, tt := range clientLines {
		check("ParseClientLine", ParseClientLine, tt.line)
	}
	for _, tt := range serverLines {
		check("ParseServerLine", ParseServerLine, tt.line)
	}
}

// TestServerLinesParse checks that what the server builds, as values,
// comes back as those values on the client side.
func TestServerLinesParse(t *testing.T) {
	tests := []Message{
		msg(Msg, "ada", `don't "quote" me \o/  `),
		msg(Whisper, "ada", "bob", "psst  "),
		msg(Left, "Ada_1", "send queue exceeded"),
		msg(Renamed, "ÄDA", "äda"),
		msg(List, "ada", "bob", "carol"),
		msg(Err, CodeLineTooLong, "lines are at most 4096 bytes; this one was dropped"),
		msg(Bye, "goodbye"),
		msg(Pong, "x y"),
	}
	for _, m := range tests {
		line := Line(m.Verb, m.Params...)
		got, err := ParseServerLine(TrimEOL(line))
		if err != nil || !sameMessage(got, m) {
			t.Errorf("ParseServerLine(%q) = %s, %v, want %s, nil", line, show(got), err, show(m))
		}
	}
}

func TestTrimEOL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MSG hi\r\n", "MSG hi"},
		{"MSG hi\n", "MSG hi"},
		{"MSG hi", "MSG hi"},
		{"\r\n", ""},
		{"\n", ""},
		{"MSG hi\r\r\n", "MSG hi\r"}, // one CR only: the other is text, and bad
	}
	for _, tt := range tests {
		if got := string(TrimEOL([]byte(tt.in))); got != tt.want {
			t.Errorf("TrimEOL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
