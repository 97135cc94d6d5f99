// Package client is the logic of the ircish chat client, without I/O: lines
// typed by the user go into Session.Input and come out as protocol lines to
// send or local hints; lines from the server go into Session.Handle and come
// out as typed events; a Renderer turns events into text for people.
//
// Types worth knowing: Session (one connection's state), Event and its
// kinds (Message, Whisper, Joined, ...), Renderer, and Complete for Tab.
//
// A Session is not safe for concurrent use: one goroutine owns it, feeds it
// both kinds of lines and writes what it returns. Server lines are parsed
// with ircish.ParseServerLine, the server's own parser.
package client

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/shlex"

	"ircish/ircish"
)

// A Session is the client's view of the chat, over one connection and the
// ones that replace it when it is lost (see Reconnect).
type Session struct {
	nick     string            // our nick once registered, else ""
	asked    string            // the nick our last NICK asked for, until answered
	users    map[string]string // everyone here we know of, by ircish.FoldNick
	quitting bool              // we sent QUIT

	// History: see history.go.
	scrollback int            // messages to ask for after joining
	lastSeq    int64          // of the last message seen; 0: none yet
	support    historySupport // whether this connection's server has HISTORY
	catchUp    []byte         // the HISTORY to send once the server says it has it
	plain      []string       // messages seen as MSG lines since joining, before seqs
	awaited    []string       // HISTORY replies asked for and not yet ended, in order: "" for HISTORY, the words of a SEARCH
	held       []held         // what came while a reply was awaited, in order
	gap        bool           // the awaited reply says some messages are gone

	rejoin    string    // the nick we are getting back after a reconnect
	heldUntil time.Time // until when to wait for the rejoin nick, held by our lost connection
	nickHeld  bool      // we said NickHeld since the reconnect
	retryNick bool      // the rejoin nick was held: ask again in a moment

	// Registered nicks and moderation: see accounts.go. Passwords are
	// kept in memory only.
	start       string     // the nick we started with,
	supplied    string     // and its password, if given (SetPassword), until refused
	account     string     // our nick if registered and we know its password,
	password    string     // which is this
	claim       string     // the nick our last NICK asked for, until answered,
	claimPw     string     // with this password, or ""
	registering string     // the password of our last REGISTER, until answered
	newPassword string     // the new password of our last PASSWORD, until answered
	bans        []BanEntry // a BANS reply, until its END
	barred      bool       // the server banned or kicked us (Barred)

	pingToken string // of the /ping awaiting its PONG, if any
	pingSent  time.Time
	pings     int

	now func() time.Time
}

// NewSession returns a session that will register as nick and then ask
// for the last scrollback messages said, and the lines to send first (see
// hello).
func NewSession(nick string, scrollback int) (*Session, []byte) {
	s := &Session{users: make(map[string]string), now: time.Now, scrollback: scrollback, start: nick}
	return s, s.hello(nick)
}

// hello starts a connection's history afresh, and returns the lines to
// send first on it: NICK, and HISTORY LIVE so that messages come with
// their seqs, if the server has HISTORY.
func (s *Session) hello(nick string) []byte {
	s.support, s.catchUp, s.plain, s.awaited, s.held, s.gap = historyAsked, nil, nil, nil, nil, false
	return ircish.AppendLine(s.join(nick), ircish.History, ircish.HistoryLive)
}

// join returns the line that registers as nick, with its password if we
// know it (after a reconnect).
func (s *Session) join(nick string) []byte {
	s.asked = nick
	return s.claimNick(nick, s.passwordFor(nick))
}

// Nick returns our nick, or "" before the server accepted one.
func (s *Session) Nick() string { return s.nick }

// Quitting reports whether we sent QUIT: the BYE or end of the
// connection that follows is expected.
func (s *Session) Quitting() bool { return s.quitting }

// Others returns the nicks of everyone else we know is here, for Tab.
func (s *Session) Others() []string {
	nicks := make([]string, 0, len(s.users))
	for _, n := range s.users {
		if n != s.nick {
			nicks = append(nicks, n)
		}
	}
	return nicks
}

// Handle turns a line from the server, with or without its line end, into
// an event, and returns the line to send in reply if there is one (a LIST,
// once registered, to learn who is here). Control characters and escape
// sequences in the line are neutralised first. While a HISTORY reply, or
// the server's word on HISTORY, is awaited, the room's lines are held, and
// come out after it (or from ReleaseHeld), in order.
// The server's WELCOME makes no event: its text is advice for people who
// type the protocol ("Say NICK <name> to join"), and the client greets
// with its own lines once joined.
func (s *Session) Handle(line []byte) (Event, []byte) {
	ev, reply := s.handle(line)
	switch ev.(type) {
	case Joined, Left, Renamed, Message, Whisper, Removed:
		if s.holding() && len(s.held) < maxHeld {
			s.held = append(s.held, held{ev: ev})
			return nil, reply
		}
	}
	return ev, reply
}

// handle turns a line from the server into its event and reply, as Handle
// says, but holds nothing back.
func (s *Session) handle(line []byte) (Event, []byte) {
	clean := Neutralise(ircish.TrimEOL(line))
	m, err := ircish.ParseServerLine(clean)
	if err != nil { // cannot happen on neutralised text, but never trust it
		return Unknown{Line: string(clean)}, nil
	}
	p := func(i int) string {
		if i < len(m.Params) {
			return m.Params[i]
		}
		return ""
	}
	switch m.Verb {
	case ircish.Welcome:
		return nil, nil
	case ircish.Joined:
		nick := p(0)
		s.users[ircish.FoldNick(nick)] = nick
		if s.nick == "" && s.asked != "" {
			// Before registering we are in no room, so the only JOINED
			// we can get is our own.
			s.nick, s.asked = nick, ""
			s.claimed(nick)
			return s.joined()
		}
		return Joined{Nick: nick}, nil
	case ircish.Left:
		delete(s.users, ircish.FoldNick(p(0)))
		if by, reason, ban, ok := removal(p(1)); ok {
			return Removed{Nick: p(0), By: by, Reason: reason, Ban: ban}, nil
		}
		return Left{Nick: p(0), Reason: p(1)}, nil
	case ircish.Renamed:
		old, nick := p(0), p(1)
		delete(s.users, ircish.FoldNick(old))
		s.users[ircish.FoldNick(nick)] = nick
		self := old == s.nick
		if self {
			s.nick, s.asked = nick, ""
			s.claimed(nick)
		}
		return Renamed{Old: old, New: nick, Self: self}, nil
	case ircish.Msg:
		if s.support != historyKept && s.holding() && len(s.plain) < maxPlain {
			s.plain = append(s.plain, p(0)+" "+p(1))
		}
		return s.message(p(0), p(1)), nil
	case ircish.History:
		return s.history(m.Params)
	case ircish.Whisper:
		return Whisper{From: p(0), To: p(1), Text: p(2), FromSelf: p(0) == s.nick, ToSelf: p(1) == s.nick}, nil
	case ircish.List:
		clear(s.users)
		for _, n := range m.Params {
			s.users[ircish.FoldNick(n)] = n
		}
		if s.support == historyAsked {
			// The reply to a LIST, sent after HISTORY LIVE (we send one on
			// joining): the server answers in order, so it ignored it.
			return s.noHistory(Users{Nicks: m.Params}), nil
		}
		return Users{Nicks: m.Params}, nil
	case ircish.Help:
		return ServerHelp{Text: p(0)}, nil
	case ircish.Pong:
		ev := Pong{Token: p(0)}
		if s.pingToken != "" && ev.Token == s.pingToken {
			ev.RTT = max(s.now().Sub(s.pingSent), time.Nanosecond)
			s.pingToken = ""
		}
		return ev, nil
	case ircish.Bye:
		if by, reason, ban, ok := removal(p(0)); ok && !s.quitting {
			s.barred = true
			return Removed{Nick: s.nick, By: by, Reason: reason, Ban: ban, Self: true}, nil
		}
		return Bye{Text: p(0)}, nil
	case ircish.Err:
		return s.serverError(ServerError{Code: p(0), Text: p(1)})
	}
	if ev, ok := s.accountLine(m); ok {
		return ev, nil
	}
	return Unknown{Line: string(clean)}, nil
}

// serverError turns an ERR line into its event, and returns the line to
// send in reply if there is one: an error may say that the server has no
// HISTORY, or refuse the nick we are registering with.
func (s *Session) serverError(e ServerError) (Event, []byte) {
	if len(s.awaited) > 0 && s.awaited[0] != "" && (e.Code == ircish.CodeBadParam || e.Code == ircish.CodeTimeout) {
		// The answer to our search, which is the oldest reply awaited as
		// replies come in the order of the commands. (A WHISPER's
		// TIMEOUT sent before it would be taken for it: rare, and the
		// search's own answer then ends nothing, and is shown as it is.)
		return s.searchFailed(e), nil
	}
	if e.Code == ircish.CodeUnknownCommand || e.Code == ircish.CodeNotRegistered && s.support == historyAsked {
		// HISTORY is the one verb we send that a server may not know;
		// before NICK is accepted, it refuses HISTORY LIVE as not allowed
		// yet.
		return s.noHistory(nil), nil
	}
	if ev, reply, ok := s.accountError(e); ok {
		return ev, reply
	}
	if s.nick == "" && s.asked != "" && (e.Code == ircish.CodeNickInUse || e.Code == ircish.CodeNickInvalid) {
		if s.rejoin != "" && s.asked == s.rejoin && e.Code == ircish.CodeNickInUse {
			return s.nickTaken()
		}
		s.asked = ""
		return NickRefused{e}, nil
	}
	return e, nil
}

// nickTaken is what follows when, back after a reconnect, our nick is
// taken: most likely by our lost connection, which the server has yet to
// see go (or, in a cluster, a lost server's). The session asks for it
// again each moment, saying so once, until NickHeldFor has passed; then
// it takes the nick with a _.
func (s *Session) nickTaken() (Event, []byte) {
	if !s.now().Before(s.heldUntil) {
		return Hint{Text: "* the nick " + s.rejoin + " is still taken after " + NickHeldFor.String() + "; trying " + s.rejoin + "_"}, s.join(s.rejoin + "_")
	}
	s.asked, s.retryNick = "", true
	if s.nickHeld {
		return nil, nil
	}
	s.nickHeld = true
	return NickHeld{Nick: s.rejoin}, nil
}

// message returns the event of a message said to everyone.
func (s *Session) message(from, text string) Message {
	self := from == s.nick
	return Message{From: from, Text: text, Self: self, Mention: !self && mentions(text, s.nick)}
}

// mentions reports whether text names nick as a whole word, ignoring case.
func mentions(text, nick string) bool {
	if nick == "" {
		return false
	}
	key := ircish.FoldNick(nick)
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-", r)
	})
	for _, w := range words {
		// A nick may hold dots but a sentence ends in one: "hi bob." names bob.
		if ircish.FoldNick(w) == key || ircish.FoldNick(strings.TrimRight(w, ".")) == key {
			return true
		}
	}
	return false
}

// Input turns a line the user typed into a protocol line to send, or into a
// hint to show, or neither (an empty line). Plain text is a message to
// everyone, sent byte for byte; "//text" says "/text"; "/cmd ..." runs a
// command of the table below.
func (s *Session) Input(line string) ([]byte, Event) {
	switch {
	case strings.TrimSpace(line) == "":
		return nil, nil
	case strings.HasPrefix(line, "//"):
		return s.say(line[1:])
	case strings.HasPrefix(line, "/"):
		head, args, _ := strings.Cut(line[1:], " ")
		cmd, ok := lookup(head)
		if !ok {
			return nil, Hint{Text: "There is no command /" + head + "; /help lists them, and // starts a message with /."}
		}
		if !cmd.beforeNick && s.nick == "" && s.asked == "" {
			return nil, Hint{Text: "Choose a nick first with /nick NAME."}
		}
		return cmd.run(s, strings.TrimLeft(args, " "))
	}
	return s.say(line)
}

// A command is what a slash command at the prompt does.
type command struct {
	names      []string // the first is the one /help shows
	syntax     string
	about      string
	beforeNick bool // allowed while we have no nick
	nickFirst  bool // its first argument is a nick, for Tab
	secret     bool // it carries a password: kept out of input history
	run        func(s *Session, args string) ([]byte, Event)
}

// commands is the command table, in /help order.
var commands []command

func init() {
	commands = []command{
		{[]string{"nick"}, "/nick NAME", "change your nick", true, false, false, (*Session).setNick},
		{[]string{"list", "who"}, "/list", "list everyone here (also /who)", false, false, false, (*Session).list},
		{[]string{"whisper", "w", "msg"}, "/whisper NAME TEXT", "say TEXT to NAME only (also /w, /msg)", false, true, false, (*Session).whisper},
		{[]string{"history"}, "/history [N]", "show the last N messages said (50)", false, false, false, (*Session).showHistory},
		{[]string{"search"}, "/search WORDS", "find the messages kept that hold every word", false, false, false, (*Session).search},
		{[]string{"register"}, "/register PASSWORD", "register your nick, so that it takes PASSWORD", false, false, true, (*Session).registerNick},
		{[]string{"password"}, "/password OLD NEW", "change your registered nick's password", false, false, true, (*Session).changePassword},
		{[]string{"unregister"}, "/unregister PASSWORD", "free your registered nick", false, false, true, (*Session).unregisterNick},
		{[]string{"oper"}, "/oper NAME PASSWORD", "become an operator", false, false, true, (*Session).oper},
		{[]string{"kick"}, "/kick NICK [REASON]", "make NICK leave", false, true, false, (*Session).kick},
		{[]string{"ban"}, "/ban TARGET DURATION [REASON]", "ban a nick, address or CIDR: 30m, 2h, 7d, forever", false, true, false, (*Session).ban},
		{[]string{"unban"}, "/unban TARGET", "lift a ban", false, true, false, (*Session).unban},
		{[]string{"bans"}, "/bans", "list the bans", false, false, false, (*Session).bansList},
		{[]string{"mute"}, "/mute NICK DURATION [REASON]", "stop NICK from talking for DURATION", false, true, false, (*Session).mute},
		{[]string{"unmute"}, "/unmute NICK", "let NICK talk again", false, true, false, (*Session).unmute},
		{[]string{"ping"}, "/ping", "time a round trip to the server", true, false, false, (*Session).ping},
		{[]string{"help"}, "/help", "show this help", true, false, false, (*Session).help},
		{[]string{"quit", "exit"}, "/quit [REASON]", "leave the chat (also /exit, Ctrl-D)", true, false, false, (*Session).quit},
	}
}

func lookup(name string) (command, bool) {
	name = strings.ToLower(name)
	for _, c := range commands {
		for _, n := range c.names {
			if n == name {
				return c, true
			}
		}
	}
	return command{}, false
}

// IsQuit reports whether text is the command that leaves (/quit, /exit).
func IsQuit(text string) bool {
	head, _, _ := strings.Cut(strings.TrimPrefix(text, "/"), " ")
	c, ok := lookup(head)
	return ok && strings.HasPrefix(text, "/") && !strings.HasPrefix(text, "//") && c.names[0] == "quit"
}

func usage(c command) Hint { return Hint{Text: "Usage: " + c.syntax + " — " + c.about + "."} }

// words splits a command's arguments as shell words, so that a quoted
// name stays one (invalid) word instead of being cut short.
func words(args string) ([]string, bool) {
	w, err := shlex.Split(args)
	return w, err == nil
}

// say sends text to everyone: plain text, or //text.
func (s *Session) say(text string) ([]byte, Event) {
	if s.nick == "" && s.asked == "" {
		return nil, Hint{Text: "Choose a nick first with /nick NAME."}
	}
	if err := ircish.CheckText([]byte(text)); err != nil {
		return nil, notText
	}
	return ircish.Line(ircish.Msg, text), nil
}

// setNick asks for a new nick: /nick NAME.
func (s *Session) setNick(args string) ([]byte, Event) {
	w, ok := words(args)
	if !ok || len(w) != 1 {
		c, _ := lookup("nick")
		return nil, usage(c)
	}
	if err := ircish.CheckNick(w[0]); err != nil {
		e, _ := ircish.AsError(err)
		return nil, Hint{Text: "Not sent: " + sentence(e.Text)}
	}
	if s.nick == "" {
		s.asked = w[0]
	}
	return s.claimNick(w[0], s.passwordFor(w[0])), nil
}

// list asks who is here: /list, /who.
func (s *Session) list(args string) ([]byte, Event) {
	if w, ok := words(args); !ok || len(w) != 0 {
		c, _ := lookup("list")
		return nil, usage(c)
	}
	return ircish.Line(ircish.List), nil
}

// whisper says text to one user: /whisper NAME TEXT. The name is a shell
// word; the text is sent byte for byte.
func (s *Session) whisper(args string) ([]byte, Event) {
	c, _ := lookup("whisper")
	head, text, _ := strings.Cut(args, " ")
	text = strings.TrimLeft(text, " ")
	w, ok := words(head)
	if !ok || len(w) != 1 || strings.TrimSpace(text) == "" {
		return nil, usage(c)
	}
	if err := ircish.CheckText([]byte(text)); err != nil {
		return nil, notText
	}
	return ircish.Line(ircish.Whisper, w[0], text), nil
}

// ping times a round trip to the server: /ping.
func (s *Session) ping(args string) ([]byte, Event) {
	if w, ok := words(args); !ok || len(w) != 0 {
		c, _ := lookup("ping")
		return nil, usage(c)
	}
	s.pings++
	s.pingToken, s.pingSent = "c"+strconv.Itoa(s.pings), s.now()
	return ircish.Line(ircish.Ping, s.pingToken), nil
}

// help lists the commands: /help.
func (s *Session) help(string) ([]byte, Event) {
	return nil, Hint{Text: HelpText()}
}

// quit leaves: /quit [REASON], /exit [REASON]. The reason is free text.
func (s *Session) quit(args string) ([]byte, Event) {
	if err := ircish.CheckText([]byte(args)); err != nil {
		return nil, notText
	}
	s.quitting = true
	return ircish.Line(ircish.Quit, args), nil
}

// Quit returns the QUIT line to send when input ends (Ctrl-D, end of a
// script) or on a signal.
func (s *Session) Quit() []byte {
	s.quitting = true
	return ircish.Line(ircish.Quit)
}

// HelpText returns the /help text, one command a line.
func HelpText() string {
	var b strings.Builder
	b.WriteString("Type a line and press Enter to say it to everyone (start it with // to say a line beginning with /).\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.syntax)+2)
	}
	for _, c := range commands {
		b.WriteString("  ")
		b.WriteString(c.syntax)
		b.WriteString(strings.Repeat(" ", width-len(c.syntax)))
		b.WriteString(c.about)
		b.WriteString("\n")
	}
	b.WriteString("Tab completes commands and nicks; a line that starts with a nick and a colon addresses that user.\n")
	b.WriteString("/kick, /ban, /unban, /bans, /mute and /unmute are for operators (see /oper).\n")
	b.WriteString("A registered nick's password is asked for without echo, or read from -password-file or IRCISH_PASSWORD, and sent again on a reconnect; after a kick or a ban the client does not reconnect.")
	return b.String()
}

// notText is the hint for a line the protocol would refuse as text.
var notText = Hint{Text: "Not sent: text must be UTF-8 without control characters."}

// CommandSummary is the short list of commands shown after joining.
func CommandSummary() string {
	return "Commands: " + CommandList() + "."
}

// CommandList lists the commands by their first names, with their
// required arguments: "/nick NAME, /list, ...".
func CommandList() string {
	var b strings.Builder
	for i, c := range commands {
		if i > 0 {
			b.WriteString(", ")
		}
		syntax, _, _ := strings.Cut(c.syntax, " [") // optional arguments left out
		b.WriteString(syntax)
	}
	return b.String()
}
