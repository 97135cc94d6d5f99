package room

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"ircish/ircish"
)

// A Ban keeps someone out of the room (or, as a mute, quiet) until a time.
type Ban struct {
	Target string    `json:"target"` // a nick, an IP address or a network (CIDR); a mute's: a nick
	Until  time.Time `json:"until"`  // zero: forever
	By     string    `json:"by"`     // the operator's nick
	Reason string    `json:"reason"`
}

// inForce reports whether b holds at t.
func (b Ban) inForce(t time.Time) bool { return b.Until.IsZero() || t.Before(b.Until) }

// BanKey returns the key that target is banned under: an address or a
// network in its canonical form, or a nick folded; ok is false if target
// is none of these.
func BanKey(target string) (key string, ok bool) {
	if p, err := netip.ParsePrefix(target); err == nil {
		return p.Masked().String(), true
	}
	if a, err := netip.ParseAddr(target); err == nil {
		return a.Unmap().WithZone("").String(), true
	}
	if ircish.CheckNick(target) == nil {
		return ircish.FoldNick(target), true
	}
	return "", false
}

// BanText returns the Text of a ban or mute record: until (zero: forever)
// and the reason.
func BanText(until time.Time, reason string) string {
	var secs int64
	if !until.IsZero() {
		secs = until.Unix()
	}
	return strconv.FormatInt(secs, 10) + " " + reason
}

func parseBanText(text string) (until time.Time, reason string) {
	secs, reason, _ := strings.Cut(text, " ")
	if n, err := strconv.ParseInt(secs, 10, 64); err == nil && n != 0 {
		until = time.Unix(n, 0).UTC()
	}
	return until, reason
}

// Bans returns the bans in force at t, by target; Mutes, the mutes.
func (s *State) Bans(t time.Time) []Ban  { return inForce(s.bans, t) }
func (s *State) Mutes(t time.Time) []Ban { return inForce(s.mutes, t) }

func inForce(bans map[string]Ban, t time.Time) []Ban {
	var bs []Ban
	for _, b := range bans {
		if b.inForce(t) {
			bs = append(bs, b)
		}
	}
	slices.SortFunc(bs, func(a, b Ban) int { return strings.Compare(a.Target, b.Target) })
	return bs
}

// Banned returns the ban in force at t that keeps out a client claiming
// nick from addr (either may be empty), if there is one.
func (s *State) Banned(nick, addr string, t time.Time) (Ban, bool) {
	if len(s.bans) == 0 {
		return Ban{}, false
	}
	if nick != "" {
		if b, ok := s.bans[ircish.FoldNick(nick)]; ok && b.inForce(t) {
			return b, true
		}
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return Ban{}, false
	}
	a = a.Unmap().WithZone("")
	for key, b := range s.bans {
		if p, err := netip.ParsePrefix(key); err == nil && p.Contains(a) && b.inForce(t) {
			return b, true
		} else if key == a.String() && b.inForce(t) {
			return b, true
		}
	}
	return Ban{}, false
}

// muted returns the mute in force at t on p, if there is one.
func (s *State) muted(p *Person, t time.Time) (Ban, bool) {
	if len(s.mutes) == 0 { // the common case, on every message: no FoldNick
		return Ban{}, false
	}
	b, ok := s.mutes[ircish.FoldNick(p.Nick)]
	return b, ok && b.inForce(t)
}

// applyModeration applies r, a moderation op of p's.
func (s *State) applyModeration(r Record, p *Person) Event {
	ev := Event{Op: r.Op, ID: r.ID, Nick: p.Nick, Arg: r.Nick}
	key, ok := BanKey(r.Nick)
	if !ok {
		return refuse(r, ircish.NewError(ircish.CodeBadParam, "not a nick, IP address or network: "+r.Nick))
	}
	s.prune(r.At)
	switch r.Op {
	case OpKick:
		target := s.byNick[key]
		if target == nil {
			return refuse(r, errNoSuchUser(r.Nick))
		}
		ev.Arg, ev.Ban = target.Nick, &Ban{Reason: r.Text}
		ev.Out = []Leaver{{target.ID, target.Nick}}
		s.remove(target)
	case OpBan:
		until, reason := parseBanText(r.Text)
		ev.Ban = &Ban{Target: r.Nick, Until: until, By: p.Nick, Reason: reason}
		s.bans[key] = *ev.Ban
		for _, q := range slices.Clone(s.people) {
			if _, banned := s.Banned(q.Nick, q.addr, r.At); banned || q.account == key {
				ev.Out = append(ev.Out, Leaver{q.ID, q.Nick})
				s.remove(q)
			}
		}
	case OpMute:
		target := s.byNick[key]
		if target == nil {
			return refuse(r, errNoSuchUser(r.Nick))
		}
		until, reason := parseBanText(r.Text)
		ev.Arg = target.Nick
		ev.Ban = &Ban{Target: target.Nick, Until: until, By: p.Nick, Reason: reason}
		s.mutes[key] = *ev.Ban
	case OpUnban, OpUnmute:
		bans := s.bans
		if r.Op == OpUnmute {
			bans = s.mutes
		}
		b, ok := bans[key]
		if !ok || !b.inForce(r.At) {
			return refuse(r, ircish.NewError(ircish.CodeBadParam, "no "+map[Op]string{OpUnban: "ban", OpUnmute: "mute"}[r.Op]+" on "+r.Nick))
		}
		delete(bans, key)
		ev.Ban, ev.Arg = &b, b.Target
	}
	return ev
}

// prune forgets the bans and mutes that have expired by t.
func (s *State) prune(t time.Time) {
	for _, bans := range []map[string]Ban{s.bans, s.mutes} {
		for key, b := range bans {
			if !b.inForce(t) {
				delete(bans, key)
			}
		}
	}
}

func refuse(r Record, err *ircish.Error) Event { return Event{Op: OpRefuse, ID: r.ID, Err: err} }

func errNoSuchUser(nick string) *ircish.Error {
	return ircish.NewError(ircish.CodeNoSuchUser, "no user named "+nick+" is here")
}

// ErrBanned is the error of a client a ban keeps out.
func ErrBanned(b Ban) *ircish.Error {
	return ircish.NewError(ircish.CodeBanned, strings.TrimSpace(FormatUntil(b.Until)+" "+b.Reason))
}

// ErrMuted is the error of a muted member's MSG or WHISPER.
func ErrMuted(b Ban) *ircish.Error {
	return ircish.NewError(ircish.CodeMuted, FormatUntil(b.Until))
}

// FormatUntil returns until as the protocol writes it: RFC 3339 UTC to
// the second, or "forever".
func FormatUntil(until time.Time) string {
	if until.IsZero() {
		return "forever"
	}
	return until.UTC().Format(time.RFC3339)
}
