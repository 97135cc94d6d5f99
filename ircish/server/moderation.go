package server

// Operators and what they do: OPER, KICK, BAN, UNBAN, BANS, MUTE, UNMUTE.
// Operators are this server's own (Server.SetOperators); what they do is
// a record of the room's, which every server of a cluster applies.

import (
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"ircish/ircish"
	"ircish/ircish/password"
	"ircish/ircish/room"
)

var errNotOperator = ircish.NewError(ircish.CodeNotOperator, "only operators may do that: OPER <name> <password>")

// noOperator is checked against when OPER names no operator, so that a
// wrong name takes as long as a wrong password. It is made at the first
// need: hashing takes 19 MiB, which a server without OPER need not hold.
var noOperator = sync.OnceValue(func() string { return password.Hash("no operator has this password") })

// SetOperators makes ops, operator names and the argon2id hashes of their
// passwords, this server's operators, in place of those before: one who
// is no longer among them loses the role at once. Safe to call from any
// goroutine, while the server serves.
func (s *Server) SetOperators(ops map[string]string) {
	s.init()
	s.operators.Store(&ops)
}

// operator returns the hash of the password of the operator name.
func (s *Server) operator(name string) (string, bool) {
	ops := s.operators.Load()
	if ops == nil {
		return "", false
	}
	hash, ok := (*ops)[name]
	return hash, ok
}

// oper makes the client an operator: OPER <name> <password>.
func (c *conn) oper(p []string) error {
	name, pw := p[0], strings.TrimRight(p[1], " ")
	hash, ok := c.s.operator(name)
	if !ok {
		hash = noOperator()
	}
	if err := c.s.guard.check(c.addrKey(), hash, pw); err != nil || !ok {
		if err == nil {
			err = room.ErrBadPassword
		}
		c.logInfo("operator refused", slog.String("operator", name), slog.String("why", err.Code))
		return err
	}
	c.operName = name
	c.out.pushReply(ircish.Line(ircish.Oper, name))
	c.logInfo("operator", slog.String("operator", name))
	return nil
}

// requireOperator returns errNotOperator unless the client is an operator
// still.
func (c *conn) requireOperator() error {
	if c.operName == "" {
		return errNotOperator
	}
	if _, ok := c.s.operator(c.operName); !ok {
		c.operName = ""
		return errNotOperator
	}
	return nil
}

// kick removes a user: KICK <nick> [<reason>].
func (c *conn) kick(p []string) error {
	reason := reasonOf(p, 1)
	return c.moderate(room.Record{Op: room.OpKick, Nick: p[0], Text: reason}, slog.String("reason", reason))
}

// ban keeps a nick, an address or a network out: BAN <target>
// <duration|forever> [<reason>].
func (c *conn) ban(p []string) error {
	until, err := untilOf(p[1])
	if err != nil {
		return err
	}
	reason := reasonOf(p, 2)
	return c.moderate(room.Record{Op: room.OpBan, Nick: p[0], Text: room.BanText(until, reason)},
		slog.String("until", room.FormatUntil(until)), slog.String("reason", reason))
}

// unban lifts a ban: UNBAN <target>.
func (c *conn) unban(p []string) error {
	return c.moderate(room.Record{Op: room.OpUnban, Nick: p[0]})
}

// mute keeps a user quiet: MUTE <nick> <duration|forever> [<reason>].
func (c *conn) mute(p []string) error {
	until, err := untilOf(p[1])
	if err != nil {
		return err
	}
	reason := reasonOf(p, 2)
	return c.moderate(room.Record{Op: room.OpMute, Nick: p[0], Text: room.BanText(until, reason)},
		slog.String("until", room.FormatUntil(until)), slog.String("reason", reason))
}

// unmute lifts a mute: UNMUTE <nick>.
func (c *conn) unmute(p []string) error {
	return c.moderate(room.Record{Op: room.OpUnmute, Nick: p[0]})
}

// bans lists the bans in force: BANS.
func (c *conn) bans([]string) error {
	if err := c.requireOperator(); err != nil {
		return err
	}
	bans := c.s.hub.bans(time.Now())
	var b []byte
	for _, ban := range bans {
		b = ircish.AppendLine(b, ircish.Bans, ban.Target, room.FormatUntil(ban.Until), ban.By, ban.Reason)
	}
	c.out.pushReply(ircish.AppendLine(b, ircish.Bans, ircish.HistoryEnd, strconv.Itoa(len(bans))))
	return nil
}

// moderate submits rec, a moderation op of the client's, an operator's,
// and logs it, with attrs.
func (c *conn) moderate(rec room.Record, attrs ...slog.Attr) error {
	if err := c.requireOperator(); err != nil {
		return err
	}
	if _, ok := room.BanKey(rec.Nick); !ok {
		return ircish.NewError(ircish.CodeBadParam, "not a nick, IP address or network: "+rec.Nick)
	}
	rec.ID = c.s.hub.idOf(c.member)
	if err := c.s.hub.ask(c.member, rec); err != nil {
		return err
	}
	c.logInfo("operator action", append([]slog.Attr{slog.String("operator", c.operName),
		slog.String("action", opVerbs[rec.Op]), slog.String("target", rec.Nick)}, attrs...)...)
	return nil
}

var opVerbs = map[room.Op]string{room.OpKick: ircish.Kick, room.OpBan: ircish.Ban, room.OpUnban: ircish.Unban, room.OpMute: ircish.Mute, room.OpUnmute: ircish.Unmute}

// reasonOf returns p[i], the reason, if there is one.
func reasonOf(p []string, i int) string {
	if i < len(p) {
		return strings.TrimRight(p[i], " ")
	}
	return ""
}

// maxBan is the longest a ban or mute may be, short of forever.
const maxBan = 100 * 365 * 24 * time.Hour

// untilOf returns when a ban or mute of duration d from now ends: zero for
// "forever". A duration is Go's (90s, 30m, 2h45m) or a number of days
// (7d).
func untilOf(d string) (time.Time, error) {
	if strings.EqualFold(d, "forever") {
		return time.Time{}, nil
	}
	dur, err := time.ParseDuration(d)
	if days, ok := strings.CutSuffix(d, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		dur = time.Duration(n) * 24 * time.Hour
		if n > int(maxBan/(24*time.Hour)) {
			dur = maxBan + 1
		}
	}
	if err != nil || dur < time.Second || dur > maxBan {
		return time.Time{}, ircish.NewError(ircish.CodeBadParam, "a duration is like 90s, 30m, 2h or 7d (at most 100 years), or forever: "+d)
	}
	return time.Now().Add(dur).Truncate(time.Second), nil
}

// bans returns the bans in force at t.
func (h *hub) bans(t time.Time) []room.Ban {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.Bans(t)
}

// bannedAddr returns the ban in force that keeps addr out, if any.
func (h *hub) bannedAddr(addr string) (room.Ban, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.Banned("", addr, time.Now())
}

// moderated sends what ev, a moderation op applied, does: the members it
// removed get BYE and leave, everyone else sees them leave, and the
// operator (op, if here) its confirmation. The caller holds h.mu.
func (h *hub) moderated(op *member, ev room.Event) {
	why := "kicked by " + ev.Nick
	if ev.Op == room.OpBan {
		why = "banned by " + ev.Nick
	}
	if ev.Ban.Reason != "" {
		why += ": " + ev.Ban.Reason
	}
	for _, l := range ev.Out {
		if m := h.localMember(l.ID); m != nil {
			h.handOut(m)
			m.out.sendOff(why)
			h.removeMember(m)
		}
		h.broadcast(nil, presenceDelay(len(h.state.People())), ircish.Left, l.Nick, why)
	}
	if ev.Op != room.OpKick && h.archive != nil {
		h.archive.SetBans(h.state.Bans(time.Time{}), h.state.Mutes(time.Time{}))
	}
	if op == nil {
		return
	}
	var line []byte
	switch ev.Op {
	case room.OpKick:
		line = ircish.Line(ircish.Kicked, ev.Arg)
	case room.OpBan:
		line = ircish.Line(ircish.Banned, ev.Arg, room.FormatUntil(ev.Ban.Until))
	case room.OpUnban:
		line = ircish.Line(ircish.Unbanned, ev.Arg)
	case room.OpMute:
		line = ircish.Line(ircish.Muted, ev.Arg, room.FormatUntil(ev.Ban.Until))
	case room.OpUnmute:
		line = ircish.Line(ircish.Unmuted, ev.Arg)
	}
	h.handOut(op)
	op.out.pushReply(line)
}

// addr returns the client's IP address, or "" if it has none.
func (c *conn) addr() string {
	if a := remoteAddr(c.netConn); a.IsValid() {
		return a.String()
	}
	return ""
}
