package server

// Registered nicks: REGISTER, PASSWORD, UNREGISTER, and the password a
// NICK of a registered nick needs. Passwords are checked by the guard, on
// the connection's goroutine, without the hub's lock; the record then says
// which hash the password matched (see room.OpRegister).

import (
	"log/slog"
	"net/netip"
	"strings"

	"ircish/ircish"
	"ircish/ircish/password"
	"ircish/ircish/room"
)

var errPasswordLength = ircish.NewError(ircish.CodeBadParam, "a password is 8 to 256 bytes")

// checkLength returns errPasswordLength unless pw is of a length a
// password may have.
func checkLength(pw string) error {
	if len(pw) < password.MinLen || len(pw) > password.MaxLen {
		return errPasswordLength
	}
	return nil
}

// cutPassword splits a NICK's field into the nick and the password after
// it, if any. Trailing spaces are easy to type unseen: they are dropped.
func cutPassword(field string) (nick, pw string) {
	nick, pw, _ = strings.Cut(strings.TrimRight(field, " "), " ")
	return nick, strings.TrimLeft(pw, " ")
}

// auth returns the hash the client's password for nick matches, or "" if
// nick is not registered. An unregistered nick takes no password: then
// it returns nick with the password, which the nick rules refuse, as
// version 1 did "NICK a b".
func (c *conn) auth(nick, pw string) (string, string, error) {
	hash, registered := c.s.hub.account(nick)
	switch {
	case !registered && pw != "":
		return nick + " " + pw, "", nil
	case !registered:
		return nick, "", nil
	case pw == "":
		return "", "", room.ErrNickRegistered(nick)
	}
	if err := c.s.guard.check(c.addrKey(), hash, pw); err != nil {
		c.logInfo("password refused", slog.String("account", nick), slog.String("why", err.Code))
		return "", "", err
	}
	return nick, hash, nil
}

// register registers the client's nick: REGISTER <password>.
func (c *conn) register(p []string) error {
	pw := strings.TrimRight(p[0], " ")
	if err := checkLength(pw); err != nil {
		return err
	}
	if err := c.s.hub.accountOp(c.member, room.OpRegister, c.s.guard.hash(pw)); err != nil {
		return err
	}
	c.logInfo("nick registered")
	return nil
}

// changePassword changes the password of the client's nick: PASSWORD
// <old password> <new password>. The old one is a word: one with spaces
// in it is changed by UNREGISTER and REGISTER.
func (c *conn) changePassword(p []string) error {
	next := strings.TrimRight(p[1], " ")
	if err := checkLength(next); err != nil {
		return err
	}
	hash, err := c.ownAccount(p[0])
	if err != nil {
		return err
	}
	if err := c.s.hub.accountOp(c.member, room.OpPassword, hash+" "+c.s.guard.hash(next)); err != nil {
		return err
	}
	c.logInfo("password changed")
	return nil
}

// unregister drops the client's nick's account: UNREGISTER <password>.
func (c *conn) unregister(p []string) error {
	hash, err := c.ownAccount(strings.TrimRight(p[0], " "))
	if err != nil {
		return err
	}
	if err := c.s.hub.accountOp(c.member, room.OpUnregister, hash); err != nil {
		return err
	}
	c.logInfo("nick unregistered")
	return nil
}

// ownAccount returns the hash of the client's nick's account, if pw is
// its password.
func (c *conn) ownAccount(pw string) (string, error) {
	hash, registered := c.s.hub.account(c.nick)
	if !registered {
		return "", ircish.NewError(ircish.CodeBadParam, "the nick "+c.nick+" is not registered")
	}
	if err := c.s.guard.check(c.addrKey(), hash, pw); err != nil {
		c.logInfo("password refused", slog.String("account", c.nick), slog.String("why", err.Code))
		return "", err
	}
	return hash, nil
}

// addrKey is the network the guessing limit counts the client in.
func (c *conn) addrKey() netip.Prefix {
	return ipKey(remoteAddr(c.netConn), c.s.ipv6Prefix())
}

// account returns the hash of nick's account, if nick is registered.
func (h *hub) account(nick string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state.Account(nick)
}

// accountOp asks the room to apply an account op of m's, with text.
func (h *hub) accountOp(m *member, op room.Op, text string) error {
	return h.ask(m, room.Record{Op: op, ID: h.idOf(m), Text: text})
}

// accountChanged tells m, if it is here, that its account op ev was
// applied, and has the archive keep the account as it now is. The caller
// holds h.mu.
func (h *hub) accountChanged(m *member, ev room.Event) {
	hash, _ := h.state.Account(ev.Nick) // "" once unregistered
	if h.archive != nil {
		h.archive.SetAccount(ev.Nick, hash)
	}
	if m == nil {
		return
	}
	var line []byte
	switch ev.Op {
	case room.OpRegister:
		line = ircish.Line(ircish.Registered, ev.Nick)
	case room.OpPassword:
		line = ircish.Line(ircish.Password, ev.Nick, "changed")
	default:
		line = ircish.Line(ircish.Unregistered, ev.Nick)
	}
	h.handOut(m)
	m.out.pushReply(line)
}
