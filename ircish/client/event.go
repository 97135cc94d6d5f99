package client

import "time"

// An Event is something to show the user: a server line understood by
// Session.Handle, or a local hint from Session.Input. Every text field of an
// event made from a server line is already neutralised.
type Event interface{ event() }

// Registered says the server accepted our first nick (our own JOINED);
// Again, that it did so after a reconnect.
type Registered struct {
	Nick  string
	Again bool
}

// Joined says someone else arrived (JOINED).
type Joined struct{ Nick string }

// Left says someone left, with a reason if the server gave one (LEFT).
type Left struct{ Nick, Reason string }

// Renamed says someone changed nick; Self when it was us (RENAMED).
type Renamed struct {
	Old, New string
	Self     bool
}

// Message is a line said to everyone (MSG). Self marks our own, echoed by
// the server; Mention marks someone else's that names us.
type Message struct {
	From, Text    string
	Self, Mention bool
}

// Whisper is a line said to one user (WHISPER). FromSelf and ToSelf say
// which end we are; both, when we whispered to ourselves.
type Whisper struct {
	From, To, Text   string
	FromSelf, ToSelf bool
}

// Users is the list of everyone here, sorted by the server (LIST).
type Users struct{ Nicks []string }

// ServerHelp is one line of the server's protocol help (HELP).
type ServerHelp struct{ Text string }

// Pong answers our /ping (PONG); RTT is zero if the token was not ours.
type Pong struct {
	Token string
	RTT   time.Duration
}

// Bye is the server's last line before it closes the connection (BYE).
type Bye struct{ Text string }

// ServerError is an ERR line; String says it in plain words.
type ServerError struct{ Code, Text string }

// NickRefused is an ERR that refused the nick we tried to register with:
// until another /nick succeeds we are not in the room.
type NickRefused struct{ ServerError }

// Scrollback is a HISTORY reply: earlier messages, and whether some are gone
// (Gap), then the room's lines that came live while it was on its way. If
// no reply comes, as the server has no HISTORY, it holds only those lines.
type Scrollback struct {
	Earlier []Earlier
	Gap     bool
	Live    []Event
}

// Found is the reply to a search (/search): the messages found for Query,
// oldest first, then the room's lines that came live while it was on its
// way. A search the server refused has no Query: only those lines, and
// the server's error last.
type Found struct {
	Query    string
	Messages []Earlier
	Live     []Event
}

// Earlier is a message said earlier, as HISTORY tells it.
type Earlier struct {
	Seq        int64
	At         time.Time
	From, Text string
}

// Unknown is a server line with a verb this client does not know.
type Unknown struct{ Line string }

// Hint is a local message: usage, an unknown command, the command list.
type Hint struct{ Text string }

// NickHeld says that, back after a reconnect, our nick is still taken,
// and that the session waits for it (Session.AwaitsNick), for up to
// NickHeldFor. It comes once per reconnect, however often the session
// asks again.
type NickHeld struct{ Nick string }

// PasswordNeeded says the nick we asked for is registered and the session
// has no password for it (ERR NICK_REGISTERED): the caller asks the user
// for one and sends ClaimNick's line, or gives up on the nick. Until then
// we are not in the room under that nick.
type PasswordNeeded struct {
	ServerError
	Nick string
}

// NickRegistered says our REGISTER was accepted (REGISTERED); Again, that
// the reply is to UNREGISTER (UNREGISTERED): the nick is free again.
type NickRegistered struct {
	Nick  string
	Again bool
}

// PasswordChanged says our PASSWORD was accepted (PASSWORD <nick> changed).
type PasswordChanged struct{ Nick string }

// Operator says our OPER was accepted: we may kick, ban and mute.
type Operator struct{ Name string }

// Moderated acknowledges an operator's command of ours: Verb is the
// reply's (ircish.Kicked, Banned, Unbanned, Muted or Unmuted), Until as
// the server says it (RFC 3339 UTC, or "forever"), for BANNED and MUTED.
type Moderated struct{ Verb, Target, Until string }

// Removed says an operator made someone leave (LEFT <nick> kicked by
// <op>: <reason>, or banned by), or, if Self, us (BYE kicked by ...): then
// the session is Barred.
type Removed struct {
	Nick, By, Reason string
	Ban, Self        bool
}

// Sanction is the server refusing us for a ban (ERR BANNED, at NICK or
// on connecting; the session is then Barred until it joins) or a mute
// (ERR MUTED, for a MSG or WHISPER). Until is as the server says it.
type Sanction struct {
	Ban           bool
	Until, Reason string
}

// BanList is the reply to /bans (BANS lines up to BANS END).
type BanList struct{ Bans []BanEntry }

// BanEntry is one ban of a BANS reply.
type BanEntry struct{ Target, Until, By, Reason string }

func (Registered) event()      {}
func (PasswordNeeded) event()  {}
func (NickRegistered) event()  {}
func (PasswordChanged) event() {}
func (Operator) event()        {}
func (Moderated) event()       {}
func (Removed) event()         {}
func (Sanction) event()        {}
func (BanList) event()         {}
func (NickHeld) event()        {}
func (Joined) event()          {}
func (Left) event()            {}
func (Renamed) event()         {}
func (Message) event()         {}
func (Whisper) event()         {}
func (Users) event()           {}
func (ServerHelp) event()      {}
func (Pong) event()            {}
func (Bye) event()             {}
func (ServerError) event()     {}
func (NickRefused) event()     {}
func (Scrollback) event()      {}
func (Found) event()           {}
func (Unknown) event()         {}
func (Hint) event()            {}
