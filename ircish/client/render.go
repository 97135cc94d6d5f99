package client

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"ircish/ircish"
)

// A Renderer turns events into text for people.
type Renderer struct {
	Color bool             // colour nicks, our own messages in reverse video, highlight mentions
	Clock func() time.Time // if set, every line starts with the time, as 15:04
	// MarkSelf starts our own messages with a *, as in "*<duck> hi", so
	// that they stand out without colour too. For a person at a terminal:
	// output read by programs stays "<duck> hi", like everyone else's.
	MarkSelf bool
}

// ANSI SGR codes used by the renderer.
const (
	sgrBold    = "1"
	sgrDim     = "2"
	sgrReverse = "7"
	sgrRed     = "31"
	sgrMention = "1;33" // bold yellow
)

// nickColors are the foreground colours a nick may get: all but black,
// white and grey, which vanish on some backgrounds.
var nickColors = []string{"31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96"}

// Render returns ev as text: one or more lines, without a final line end,
// or "" when there is nothing to show. Every field is neutralised again, so
// an event made anywhere cannot move the cursor.
func (r Renderer) Render(ev Event) string {
	var s string
	switch ev := ev.(type) {
	case nil:
		return ""
	case Scrollback:
		return r.scrollback(ev)
	case Found:
		return r.found(ev)
	case Registered:
		s = "* you have joined as " + r.nick(ev.Nick) + "\n" + CommandSummary()
		if ev.Again {
			s = "* reconnected as " + r.nick(ev.Nick)
		}
	case NickHeld:
		s = "* the nick " + r.nick(ev.Nick) + " is still taken, likely by our lost connection; waiting up to " + NickHeldFor.String() + " for it"
	case Joined:
		s = r.dim("* ") + r.nick(ev.Nick) + r.dim(" has joined")
	case Left:
		s = r.dim("* ") + r.nick(ev.Nick) + r.dim(" has left")
		if ev.Reason != "" {
			s += r.dim(" (" + Clean(ev.Reason) + ")")
		}
	case Renamed:
		who := r.nick(ev.Old) + r.dim(" is")
		if ev.Self {
			who = "you" + r.dim(" are")
		}
		s = r.dim("* ") + who + r.dim(" now known as ") + r.nick(ev.New)
	case Message:
		s = r.message(ev)
	case Whisper:
		s = r.whisper(ev)
	case Users:
		s = r.users(ev)
	case ServerHelp:
		s = "  " + Clean(ev.Text)
	case Pong:
		if ev.RTT > 0 {
			s = "* pong from the server in " + ev.RTT.Round(time.Microsecond).String()
		} else {
			s = strings.TrimSpace("* pong " + Clean(ev.Token))
		}
	case Bye:
		s = "* disconnected"
		if ev.Text != "" {
			s += ": " + Clean(ev.Text)
		}
	case ServerError:
		s = r.paint(sgrRed, ev.String())
	case NickRefused:
		s = r.paint(sgrRed, ev.String()) + " Pick another with /nick NAME."
	case PasswordNeeded:
		s = r.paint(sgrRed, ev.String())
	case NickRegistered:
		s = "* you registered the nick " + r.nick(ev.Nick)
		if ev.Again {
			s = "* the nick " + r.nick(ev.Nick) + " is no longer registered"
		}
	case PasswordChanged:
		s = "* the password of " + r.nick(ev.Nick) + " is changed"
	case Operator:
		s = "* you are an operator, as " + Clean(ev.Name)
	case Moderated:
		s = r.moderated(ev)
	case Removed:
		s = r.removed(ev)
	case Sanction:
		s = r.paint(sgrRed, ev.String())
	case BanList:
		s = r.banList(ev)
	case Unknown:
		s = "? " + Clean(ev.Line)
	case Hint:
		lines := strings.Split(ev.Text, "\n")
		for i, l := range lines {
			lines[i] = Clean(l)
		}
		s = strings.Join(lines, "\n")
	default:
		panic(fmt.Sprintf("client: no rendering for %T", ev))
	}
	if r.Clock == nil {
		return s
	}
	stamp := r.dim(r.Clock().Format("15:04")) + " "
	return stamp + strings.ReplaceAll(s, "\n", "\n"+stamp)
}

// message renders a message said to everyone as "<from> text". With
// colours, ours is in reverse video and one that names us highlighted;
// with r.MarkSelf, ours starts with a *.
func (r Renderer) message(ev Message) string {
	from := "<" + r.nick(ev.From) + ">"
	if ev.Self {
		from = r.paint(sgrReverse, from)
		if r.MarkSelf {
			from = "*" + from
		}
	}
	text := Clean(ev.Text)
	if ev.Mention {
		text = r.paint(sgrMention, text)
	}
	return from + " " + text
}

// whisper renders a whisper as "[from → to] text", with "you" for us.
func (r Renderer) whisper(ev Whisper) string {
	from, to := r.nick(ev.From), r.nick(ev.To)
	if ev.FromSelf {
		from = "you"
	}
	if ev.ToSelf {
		to = "you"
	}
	return "[" + from + " → " + to + "] " + Clean(ev.Text)
}

// users renders the list of everyone here as "2 users: ann, bob".
func (r Renderer) users(ev Users) string {
	nicks := make([]string, len(ev.Nicks))
	for i, n := range ev.Nicks {
		nicks[i] = r.nick(n)
	}
	noun := " users: "
	if len(nicks) == 1 {
		noun = " user: "
	}
	return strconv.Itoa(len(nicks)) + noun + strings.Join(nicks, ", ")
}

// moderated renders the server's acknowledgement of an operator's
// command: "* you kicked ann", "* ann is banned until ...".
func (r Renderer) moderated(ev Moderated) string {
	target := r.nick(ev.Target)
	switch ev.Verb {
	case ircish.Kicked:
		return "* you kicked " + target
	case ircish.Banned:
		return "* " + target + " is banned " + until(ev.Until)
	case ircish.Unbanned:
		return "* " + target + " is no longer banned"
	case ircish.Muted:
		return "* " + target + " is muted " + until(ev.Until)
	}
	return "* " + target + " is no longer muted"
}

// removed renders an operator's removal: "* ann was kicked by op
// (spam)", "* you were banned by op".
func (r Renderer) removed(ev Removed) string {
	who, how := r.nick(ev.Nick)+r.dim(" was"), " kicked by "
	if ev.Self {
		who = "you" + r.dim(" were")
	}
	if ev.Ban {
		how = " banned by "
	}
	s := r.dim("* ") + who + r.dim(how) + r.nick(ev.By)
	if ev.Reason != "" {
		s += r.dim(" (" + Clean(ev.Reason) + ")")
	}
	return s
}

// banList renders the reply to /bans as "2 bans:" and one line each,
// oldest first as the server sends them.
func (r Renderer) banList(ev BanList) string {
	switch len(ev.Bans) {
	case 0:
		return "No bans."
	case 1:
		s := "1 ban:"
		return s + r.bans(ev.Bans)
	}
	return strconv.Itoa(len(ev.Bans)) + " bans:" + r.bans(ev.Bans)
}

func (r Renderer) bans(bans []BanEntry) string {
	var b strings.Builder
	for _, e := range bans {
		b.WriteString("\n  " + Clean(e.Target) + " " + until(e.Until) + ", by " + r.nick(e.By))
		if e.Reason != "" {
			b.WriteString(": " + Clean(e.Reason))
		}
	}
	return b.String()
}

// until says how long a ban or mute lasts, from the server's RFC 3339
// UTC time or "forever": "until 2026-12-04 18:30:00 UTC", "for good".
func until(s string) string {
	if s == "forever" {
		return "for good"
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return "until " + Clean(s)
	}
	return "until " + t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// history renders a HISTORY reply: the earlier messages, dimmed, each with
// the time it was said (and the day, if not today) rather than the clock's,
// then a divider, then the live messages as usual.
func (r Renderer) scrollback(ev Scrollback) string {
	stamp, lines := r.earlier(ev.Earlier)
	if ev.Gap {
		lines = append([]string{stamp + r.dim("* some earlier messages are gone: the server no longer has them")}, lines...)
	}
	if len(ev.Earlier) > 0 {
		lines = append(lines, stamp+r.dim("-- end of earlier messages --"))
	}
	for _, m := range ev.Live {
		lines = append(lines, r.Render(m))
	}
	return strings.Join(lines, "\n")
}

// found renders the reply to a search as scrollback, then how many
// messages were found.
func (r Renderer) found(ev Found) string {
	stamp, lines := r.earlier(ev.Messages)
	switch {
	case ev.Query == "":
	case len(ev.Messages) == 0:
		lines = append(lines, stamp+r.dim("-- no message holds every word of "+"\""+Clean(ev.Query)+"\""+" --"))
	case len(ev.Messages) == 1:
		lines = append(lines, stamp+r.dim("-- 1 message found for "+"\""+Clean(ev.Query)+"\""+" --"))
	default:
		lines = append(lines, stamp+r.dim("-- "+strconv.Itoa(len(ev.Messages))+" messages found for "+"\""+Clean(ev.Query)+"\""+" --"))
	}
	for _, m := range ev.Live {
		lines = append(lines, r.Render(m))
	}
	return strings.Join(lines, "\n")
}

// earlier renders messages said earlier, one line each, and returns them
// with the time stamp of lines said now, if lines have one.
func (r Renderer) earlier(ms []Earlier) (stamp string, lines []string) {
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock()
		stamp = r.dim(now.Format("15:04")) + " "
	}
	for _, m := range ms {
		at := m.At.In(now.Location())
		line := "<" + Clean(m.From) + "> " + Clean(m.Text)
		switch {
		case r.Clock == nil:
			lines = append(lines, "[earlier "+at.Format("2006-01-02 15:04:05")+"] "+line)
		case at.Format(time.DateOnly) == now.Format(time.DateOnly):
			lines = append(lines, r.dim(at.Format("15:04")+" "+line))
		default:
			lines = append(lines, r.dim(at.Format("Jan 2 15:04")+" "+line))
		}
	}
	return stamp, lines
}

// paint wraps s in an SGR sequence when colours are on.
func (r Renderer) paint(sgr, s string) string {
	if !r.Color || s == "" {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

func (r Renderer) dim(s string) string { return r.paint(sgrDim, s) }

// nick renders a nick in its colour, which depends on the nick alone (under
// case folding) so that it stays the same on every line and every run.
func (r Renderer) nick(n string) string {
	return r.paint(NickColor(n), Clean(n))
}

// NickColor returns the SGR colour code of nick.
func NickColor(nick string) string {
	h := fnv.New32a()
	h.Write([]byte(ircish.FoldNick(nick)))
	return nickColors[h.Sum32()%uint32(len(nickColors))]
}

// String says the error in plain words, as a sentence.
func (e ServerError) String() string {
	switch e.Code {
	case ircish.CodeNotRegistered:
		return "Choose a nick first with /nick NAME."
	case ircish.CodeNeedMoreParams:
		return "The server did not understand this client: " + sentence(Clean(e.Text))
	}
	return sentence(Clean(e.Text))
}

// String says the error, and what to do about it, in plain words.
func (e PasswordNeeded) String() string {
	return "The nick " + Clean(e.Nick) + " is registered: give its password (-password-file FILE or IRCISH_PASSWORD), or pick another nick with /nick NAME."
}

// String says the sanction in plain words.
func (e Sanction) String() string {
	if !e.Ban {
		return "You are muted " + until(e.Until) + ": not sent."
	}
	s := "You are banned " + until(e.Until)
	if e.Reason != "" {
		s += ": " + Clean(e.Reason)
	}
	return sentence(s)
}

// sentence capitalises s and ends it with a full stop if it has none.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "The server reported an error."
	}
	r, size := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[size:]
	if !strings.ContainsAny(s[len(s)-1:], ".!?") {
		s += "."
	}
	return s
}

// Neutralise returns b as valid UTF-8 with nothing a terminal would act on
// and nothing that hides or reorders text: C0 controls (but TAB) and DEL
// become caret notation, so ESC shows as ^[; C1 controls and bytes that
// are not UTF-8 become U+FFFD; hidden characters (bidi controls, zero-width
// spaces, Hangul fillers, tags) show as their code, as <U+202E>. Clean
// input is returned as it is.
func Neutralise(b []byte) []byte {
	if ircish.CheckText(b) == nil && !hasInvisible(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size == 1:
			out = utf8.AppendRune(out, utf8.RuneError)
		case ircish.IsControl(r) && r < utf8.RuneSelf:
			out = append(out, '^', byte(r)^0x40)
		case ircish.IsControl(r):
			out = utf8.AppendRune(out, utf8.RuneError)
		case hidden(r):
			out = fmt.Appendf(out, "<U+%04X>", r)
		default:
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// Clean returns s neutralised (see Neutralise).
func Clean(s string) string { return string(Neutralise([]byte(s))) }

// hidden reports whether the client shows r as its code: an invisible
// character (ircish.IsInvisible), but for the zero-width joiners and the
// variation selectors, which only join or pick glyphs: emoji (👩‍💻, ❤️) and
// scripts such as Persian need them, and they reorder nothing.
func hidden(r rune) bool {
	return ircish.IsInvisible(r) && r != '\u200c' && r != '\u200d' && !unicode.Is(unicode.Variation_Selector, r)
}

// hasInvisible reports whether b holds a hidden character. All of them are
// outside ASCII.
func hasInvisible(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if hidden(r) {
			return true
		}
		i += size
	}
	return false
}
