package ircish

import (
	"bytes"
	"slices"
	"strings"
)

// Verbs of protocol v1. A client sends NICK, MSG, WHISPER, LIST, HELP, PING,
// QUIT, HISTORY, for registered nicks REGISTER, PASSWORD and UNREGISTER,
// and for operators OPER, KICK, BAN, UNBAN, BANS, MUTE and UNMUTE; the
// server sends the rest, and MSG, WHISPER, LIST, HELP, HISTORY, PASSWORD,
// OPER and BANS with fields of its own.
const (
	Nick    = "NICK"
	Msg     = "MSG"
	Whisper = "WHISPER"
	List    = "LIST"
	Help    = "HELP"
	Ping    = "PING"
	Quit    = "QUIT"
	History = "HISTORY"

	Register   = "REGISTER"
	Password   = "PASSWORD"
	Unregister = "UNREGISTER"
	Oper       = "OPER"
	Kick       = "KICK"
	Ban        = "BAN"
	Unban      = "UNBAN"
	Bans       = "BANS"
	Mute       = "MUTE"
	Unmute     = "UNMUTE"

	Welcome = "WELCOME"
	Joined  = "JOINED"
	Left    = "LEFT"
	Renamed = "RENAMED"
	Pong    = "PONG"
	Bye     = "BYE"
	Err     = "ERR"

	Registered   = "REGISTERED"
	Unregistered = "UNREGISTERED"
	Kicked       = "KICKED"
	Banned       = "BANNED"
	Unbanned     = "UNBANNED"
	Muted        = "MUTED"
	Unmuted      = "UNMUTED"
)

// A Message is one protocol line: its verb and fields. Where the verb takes
// free text, it is the last field, verbatim.
type Message struct {
	Verb   string   // upper case
	Params []string // the fixed fields, then the free text if there is any
}

// allWords marks a verb whose fields are all words, without free text.
const allWords = -1

// A syntax is how the lines of a client verb are made.
type syntax struct {
	// words is how many space-separated words come before the free
	// text, which starts at the first non-space byte after them and runs
	// to the end of the line.
	words  int
	min    int    // fields required
	format string // for people
}

// clientVerbs gives the syntax of each verb a client sends. NICK takes its
// argument as free text so that "NICK a b" is seen as the invalid nick
// "a b", not silently cut to "a".
var clientVerbs = map[string]syntax{
	Nick:    {0, 1, "NICK <nick> [<password>]"},
	Msg:     {0, 1, "MSG <text>"},
	Whisper: {1, 2, "WHISPER <nick> <text>"},
	List:    {allWords, 0, "LIST"},
	Help:    {allWords, 0, "HELP [<command>]"},
	Ping:    {0, 0, "PING [<token>]"},
	Quit:    {0, 0, "QUIT [<reason>]"},
	History: {allWords, 0, "HISTORY [AFTER <seq>] [<n>] | HISTORY SEARCH <words>"},

	Register:   {0, 1, "REGISTER <password>"},
	Password:   {1, 2, "PASSWORD <old password> <new password>"},
	Unregister: {0, 1, "UNREGISTER <password>"},
	Oper:       {1, 2, "OPER <name> <password>"},
	Kick:       {1, 1, "KICK <nick> [<reason>]"},
	Ban:        {2, 2, "BAN <nick|address|network> <duration|forever> [<reason>]"},
	Unban:      {allWords, 1, "UNBAN <nick|address|network>"},
	Bans:       {allWords, 0, "BANS"},
	Mute:       {2, 2, "MUTE <nick> <duration|forever> [<reason>]"},
	Unmute:     {allWords, 1, "UNMUTE <nick>"},
}

// serverVerbs gives, for each verb the server sends, how many words come
// before the free text.
var serverVerbs = map[string]int{
	Welcome: 0, Joined: 0, Left: 1, Renamed: 1, Msg: 1, Whisper: 2,
	List: allWords, Help: 0, Pong: 0, Bye: 0, Err: 1, History: 3,
	Registered: 0, Unregistered: 0, Password: 1, Oper: 0,
	Kicked: 0, Banned: 1, Unbanned: 0, Muted: 1, Unmuted: 0, Bans: 3,
}

// Usage returns the syntax of a verb a client sends, as HELP shows it, or
// "" if there is no such verb.
func Usage(verb string) string { return clientVerbs[verb].format }

// CheckParams returns a NEED_MORE_PARAMS error, with the verb's usage, if
// m, a client's line, has fewer fields than its verb requires.
func (m Message) CheckParams() error {
	if v := clientVerbs[m.Verb]; len(m.Params) < v.min {
		return NewError(CodeNeedMoreParams, "usage: "+v.format)
	}
	return nil
}

// ParseClientLine parses a line a client sent, without its terminator. The
// verb is matched case-insensitively; an unknown verb comes back upper-cased
// with the rest of the line as one field. The error, if any, is an *Error
// with code BAD_TEXT.
func ParseClientLine(line []byte) (Message, error) {
	return parse(line, func(verb string) (int, bool) {
		v, ok := clientVerbs[verb]
		return v.words, ok
	})
}

// ParseServerLine parses a line the server sent, without its terminator.
func ParseServerLine(line []byte) (Message, error) {
	return parse(line, func(verb string) (int, bool) {
		words, ok := serverVerbs[verb]
		return words, ok
	})
}

// parse parses line, whose verbs take the number of words before their
// free text that wordsOf gives.
func parse(line []byte, wordsOf func(verb string) (int, bool)) (Message, error) {
	if err := CheckText(line); err != nil {
		return Message{}, err
	}
	s := strings.TrimLeft(string(line), " ")
	head, rest, _ := strings.Cut(s, " ")
	words, known := wordsOf(head)
	if !known {
		head = UpperASCII(head)
		words, _ = wordsOf(head)
	}
	return Message{Verb: head, Params: split(rest, words)}, nil
}

// UpperASCII upper-cases the ASCII letters of s only, so that no other
// script's letter can turn into a verb or a keyword (as the dotless ı of
// "pıng" would).
func UpperASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// split cuts s into words, at runs of spaces, and after the given number of
// words returns what is left as one field, verbatim.
func split(s string, words int) []string {
	var params []string
	for n := 0; words == allWords || n < words; n++ {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return params
		}
		var word string
		word, s, _ = strings.Cut(s, " ")
		params = append(params, word)
	}
	if s = strings.TrimLeft(s, " "); s != "" {
		params = append(params, s)
	}
	return params
}

// String returns the line without its terminator.
func (m Message) String() string {
	b := m.Append(nil)
	return string(b[:len(b)-2])
}

// Append appends the line, ending in CRLF, to b.
func (m Message) Append(b []byte) []byte {
	return AppendLine(b, m.Verb, m.Params...)
}

// AppendLine appends the line made of verb and params, separated by single
// spaces and ending in CRLF, to b. Empty trailing params are left out, so
// that LEFT without a reason is just "LEFT nick".
func AppendLine(b []byte, verb string, params ...string) []byte {
	for len(params) > 0 && params[len(params)-1] == "" {
		params = params[:len(params)-1]
	}
	n := len(verb) + 2
	for _, p := range params {
		n += 1 + len(p)
	}
	b = slices.Grow(b, n)
	b = append(b, verb...)
	for _, p := range params {
		b = append(b, ' ')
		b = append(b, p...)
	}
	return append(b, '\r', '\n')
}

// Line returns the formatted line verb params... as a new slice.
func Line(verb string, params ...string) []byte {
	return AppendLine(nil, verb, params...)
}

// TrimEOL cuts the LF, or CRLF, off the end of a line.
func TrimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}
