package server

import (
	"ircish/ircish"

	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// A command is the server side of a verb; ircish.Usage gives its syntax,
// and Message.CheckParams checks it.
type command struct {
	beforeNick bool // allowed before registration
	about      string
	run        func(c *conn, params []string) error
}

// commands is the command table; see protocol.txt.
var commands map[string]command

// helpOrder is the order in which HELP lists the commands. HISTORY, which
// came after version 1, is left out, so that clients that never use it see
// the HELP of version 1; HELP HISTORY describes it.
var helpOrder = []string{ircish.Nick, ircish.Msg, ircish.Whisper, ircish.List, ircish.Help, ircish.Ping, ircish.Quit}

func init() {
	commands = map[string]command{
		ircish.Nick:    {true, "choose your nick (first of all), or change it", (*conn).setNick},
		ircish.Msg:     {false, "say text to everyone", (*conn).say},
		ircish.Whisper: {false, "say text to one user only", (*conn).whisper},
		ircish.List:    {false, "list everyone here", (*conn).list},
		ircish.History: {true, "the last n messages (50), or n after seq; HISTORY LIVE: all as HISTORY lines; HISTORY SEARCH: those with every word", (*conn).replay},
		ircish.Help:    {true, "describe the commands", (*conn).help},
		ircish.Ping:    {true, "the server answers PONG [<token>]", (*conn).ping},
		ircish.Quit:    {true, "leave", (*conn).quit},

		ircish.Register:   {false, "register your nick: it then takes this password", (*conn).register},
		ircish.Password:   {false, "change your registered nick's password", (*conn).changePassword},
		ircish.Unregister: {false, "drop your nick's registration", (*conn).unregister},
		ircish.Oper:       {false, "log in as an operator of this server", (*conn).oper},
		ircish.Kick:       {false, "operators: remove a user", (*conn).kick},
		ircish.Ban:        {false, "operators: keep a nick, address or network out, for a time or forever", (*conn).ban},
		ircish.Unban:      {false, "operators: lift a ban", (*conn).unban},
		ircish.Bans:       {false, "operators: list the bans", (*conn).bans},
		ircish.Mute:       {false, "operators: keep a user quiet, for a time or forever", (*conn).mute},
		ircish.Unmute:     {false, "operators: lift a mute", (*conn).unmute},
	}
}

// setNick registers the client, or renames it: NICK <nick> [<password>],
// the password for a registered nick.
func (c *conn) setNick(p []string) error {
	nick, auth, err := c.auth(cutPassword(p[0]))
	if err != nil {
		return err
	}
	if c.member == nil {
		m, err := c.s.hub.join(c.out, nick, auth, c.addr(), c.seqs)
		if err != nil {
			c.s.meter.nickRefused.add(nickRefusal(err))
			return err
		}
		c.member, c.nick = m, nick
		c.in.setDeadline(time.Time{})
		c.logInfo("client registered")
		return nil
	}
	old := c.nick
	if err := c.s.hub.rename(c.member, nick, auth); err != nil {
		return err
	}
	c.nick = nick
	if old != nick {
		c.logInfo("nick changed", slog.String("old", old))
	}
	return nil
}

// say sends a message to everyone: MSG <text>.
func (c *conn) say(p []string) error {
	if err := c.s.hub.say(c.member, p[0]); err != nil {
		return err
	}
	c.logInfo("message", slog.String("text", p[0]))
	return nil
}

// whisper sends a message to one user: WHISPER <nick> <text>.
func (c *conn) whisper(p []string) error {
	if err := c.s.hub.whisper(c.member, p[0], p[1]); err != nil {
		return err
	}
	if c.s.LogWhispers {
		c.logInfo("whisper", slog.String("to", p[0]), slog.String("text", p[1]))
	} else {
		c.logInfo("whisper", slog.String("to", p[0]))
	}
	return nil
}

// list sends the nicks of everyone here: LIST.
func (c *conn) list([]string) error {
	c.logInfo("list", slog.Int("users", c.s.hub.list(c.member)))
	return nil
}

// replay sends earlier room messages: HISTORY [<count>], HISTORY AFTER
// <seq> [<count>], HISTORY SEARCH <word>...; or, with HISTORY LIVE, asks
// for seqs on MSG lines.
func (c *conn) replay(p []string) error {
	if len(p) > 0 && ircish.UpperASCII(p[0]) == ircish.HistorySearch {
		return c.search(p[1:])
	}
	if len(p) > 0 && ircish.UpperASCII(p[0]) == ircish.HistoryLive {
		c.s.meter.history.add("live")
		if c.member == nil {
			c.seqs = true // for join
			c.send(ircish.Line(ircish.History, ircish.HistoryLive))
		} else {
			c.s.hub.seqsFor(c.member)
		}
		return nil
	}
	if c.member == nil {
		return errNotRegistered
	}
	after := int64(-1)
	if len(p) > 0 && ircish.UpperASCII(p[0]) == ircish.HistoryAfter {
		if len(p) < 2 {
			return ircish.NewError(ircish.CodeNeedMoreParams, "usage: HISTORY AFTER <seq> [<n>]")
		}
		seq, err := strconv.ParseInt(p[1], 10, 64)
		if err != nil || seq < 0 {
			return ircish.NewError(ircish.CodeBadParam, "a seq is a number from 0 up: "+p[1])
		}
		after, p = seq, p[2:]
	}
	count := ircish.DefaultHistoryCount
	if len(p) > 0 {
		n, err := strconv.ParseUint(p[0], 10, 31)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return ircish.NewError(ircish.CodeBadParam, "a count is a number from 0 up: "+p[0])
		}
		count = int(n) // the most, if out of range
	}
	if after < 0 {
		c.s.meter.history.add("last")
	} else {
		c.s.meter.history.add("after")
	}
	sent := c.s.hub.replay(c.member, after, count)
	c.logInfo("history", slog.Int("asked", count), slog.Int("sent", sent))
	return nil
}

// search sends the messages kept that hold every word: HISTORY SEARCH
// <word>...
func (c *conn) search(p []string) error {
	if c.member == nil {
		return errNotRegistered
	}
	words := ircish.SearchWords(strings.Join(p, " "))
	switch {
	case len(words) == 0:
		return ircish.NewError(ircish.CodeBadParam, "usage: HISTORY SEARCH <words>: a word holds a letter or a digit")
	case len(words) > ircish.SearchMaxWords:
		return errTooManyWords
	}
	c.s.meter.history.add("search")
	n, err := c.s.hub.search(c.member, words)
	var se searchError
	if errors.As(err, &se) {
		c.logAt(slog.LevelError, "search failed", slog.Any("err", se.err))
		return errSearchFailed
	}
	if err != nil {
		return err
	}
	c.logInfo("search", slog.Int("words", len(words)), slog.Int("found", n))
	return nil
}

// help describes the commands, or one: HELP [<command>].
func (c *conn) help(p []string) error {
	verbs := helpOrder
	if len(p) > 0 {
		verb := ircish.UpperASCII(p[0])
		if _, ok := commands[verb]; !ok {
			return errUnknownCommand(verb)
		}
		verbs = []string{verb}
	}
	for _, v := range verbs {
		c.send(ircish.Line(ircish.Help, fmt.Sprintf("%-22s %s", ircish.Usage(v), commands[v].about)))
	}
	return nil
}

// ping answers PONG with the same token: PING [<token>].
func (c *conn) ping(p []string) error {
	c.send(ircish.Line(ircish.Pong, p...))
	return nil
}

// quit ends the connection: QUIT [<reason>].
func (c *conn) quit(p []string) error {
	if len(p) > 0 {
		c.quitReason = p[0]
	}
	// Only an operator kicks or bans: a reason that would read as one is
	// marked as the quitter's own.
	if strings.HasPrefix(c.quitReason, "kicked by ") || strings.HasPrefix(c.quitReason, "banned by ") {
		c.quitReason = "quit: " + c.quitReason
	}
	c.logInfo("client quit", slog.String("reason", c.quitReason))
	return errQuit
}
