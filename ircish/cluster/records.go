package cluster

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish/room"
)

// Names of the cluster's stream and subjects. Messages said go to one
// subject, all else a member does to a subject of its own; leases and
// snapshots have theirs. Heartbeats are core NATS, on a subject the
// stream does not take.
const (
	streamName      = "ircish"
	sayingsSubject  = "ircish.say"
	memberSubjects  = "ircish.m.>"
	leaseSubject    = "ircish.lease"     // leases: see lease.go
	snapSubject     = "ircish.snap"      // a snapshot's index: see snapshot.go
	snapPartSubject = "ircish.snap.part" // a snapshot's parts
	aliveSubject    = "ircish.alive"     // heartbeats, core NATS: not kept
	anySubject      = "ircish.>"
)

// streamSubjects are the subjects of the stream.
var streamSubjects = []string{sayingsSubject, memberSubjects, leaseSubject, snapSubject, snapPartSubject}

// subjectOf returns the subject of rec: see streamName.
func subjectOf(rec room.Record) string {
	if rec.Op == room.OpSay {
		return sayingsSubject
	}
	return memberSubject(rec.ID)
}

func memberSubject(id room.MemberID) string {
	return "ircish.m." + id.Node + "." + strconv.FormatUint(id.Num, 10)
}

// A record's seq is that of the stream message it came in plus the
// stream's base, shifted left by batchBits, plus its place in the
// message: so seqs grow in the stream's order, however many records a
// message holds. The base is the time the stream was created, in
// microseconds: the seqs of a stream created again (a new room) are above
// those of the one before, so that a client that asks for what it missed
// there is told GAP, unless the first stream took over a million
// messages a second. (Clients see these seqs in HISTORY lines; 10 bits
// leave 53, of which the base takes 51 until the year 2041, 52 until
// 2112.)
const (
	batchBits = 10
	maxBatch  = 1 << batchBits // records in one message at most
)

// seqOf returns the seq of the i-th record of the message seq of a
// stream of base base.
func seqOf(base int64, seq uint64, i int) int64 { return (base+int64(seq))<<batchBits + int64(i) }

// baseOf returns the base of seqs of a stream created at created.
func baseOf(created time.Time) int64 { return created.UnixMicro() }

// msgOrigin returns the server that published msg, and the number it gave
// it, from its message id, "<node>.<number>" (see publisher.next); ok is
// false for a message without one.
func msgOrigin(h nats.Header) (node string, count uint64, ok bool) {
	id := h.Get(jetstream.MsgIDHeader)
	node, num, found := strings.Cut(id, ".")
	count, err := strconv.ParseUint(num, 10, 64)
	if !found || err != nil || node == "" {
		return "", 0, false
	}
	return node, count, true
}

// A lease is one line: "<node> <reached> <name>", reached being the
// stream seq of the last message the server applied, 0 while it reads the
// room afresh.
func appendLease(b []byte, node string, reached int64, name string) []byte {
	return fmt.Appendf(b, "%s %d %s", node, reached, name)
}

// decodeLease returns what a lease says.
func decodeLease(data []byte) (node string, reached int64, name string, err error) {
	node, rest, _ := strings.Cut(string(data), " ")
	num, name, _ := strings.Cut(rest, " ")
	if reached, err = strconv.ParseInt(num, 10, 64); err != nil || node == "" {
		return "", 0, "", fmt.Errorf("ircish: bad lease %q", data)
	}
	return node, reached, name, nil
}

// Records in the stream are text, two lines each: "<op> <node> <num>
// <made> [<nick>]", and the text, as it came (it holds no line feed); a
// join's text is "<addr> <hash>" (see room.Record).
var opNames = [...]string{
	room.OpJoin: "JOIN", room.OpRename: "RENAME", room.OpSay: "SAY", room.OpWhisper: "WHISPER", room.OpLeave: "LEAVE",
	room.OpRegister: "REGISTER", room.OpPassword: "PASSWORD", room.OpUnregister: "UNREGISTER",
	room.OpKick: "KICK", room.OpBan: "BAN", room.OpUnban: "UNBAN", room.OpMute: "MUTE", room.OpUnmute: "UNMUTE",
}

// appendRecord appends the text of rec to b.
func appendRecord(b []byte, rec room.Record) []byte {
	b = append(b, opNames[rec.Op]...)
	b = append(b, ' ')
	b = append(b, rec.ID.Node...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, rec.ID.Num, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, rec.Made, 10)
	if rec.Nick != "" {
		b = append(append(b, ' '), rec.Nick...)
	}
	b = append(b, '\n')
	if rec.Op == room.OpJoin {
		b = append(append(b, rec.Addr...), ' ')
	}
	b = append(b, rec.Text...)
	return append(b, '\n')
}

// records yields the records of a message in turn, and then, if the
// message ends badly, an error. Their strings are parts of one copy of the
// message: one allocation for all of them, however many there are. What
// history keeps of a batch of messages keeps all of it, which costs at
// most one batch (maxBatchBytes) more than history itself: every batch
// but the oldest one in history is in history whole.
func records(msg []byte) iter.Seq2[room.Record, error] {
	return func(yield func(room.Record, error) bool) {
		rest := string(msg)
		for rest != "" {
			head, after, ok1 := strings.Cut(rest, "\n")
			text, after, ok2 := strings.Cut(after, "\n")
			if !ok1 || !ok2 {
				yield(room.Record{}, fmt.Errorf("ircish: record without its end: %q", rest))
				return
			}
			rec, err := decodeHead(head)
			if err != nil {
				yield(room.Record{}, err)
				return
			}
			rec.Text = text
			if rec.Op == room.OpJoin { // a join of a server before bans has no address
				rec.Addr, rec.Text, _ = strings.Cut(text, " ")
			}
			if !yield(rec, nil) {
				return
			}
			rest = after
		}
	}
}

// decodeHead returns the record of a first line: "<op> <node> <num>
// <made> [<nick>]".
func decodeHead(head string) (room.Record, error) {
	name, rest, _ := strings.Cut(head, " ")
	node, rest, _ := strings.Cut(rest, " ")
	num, rest, _ := strings.Cut(rest, " ")
	made, nick, _ := strings.Cut(rest, " ")
	rec := room.Record{ID: room.MemberID{Node: node}, Nick: nick}
	for o, opName := range opNames {
		if opName != "" && opName == name {
			rec.Op = room.Op(o)
		}
	}
	var err1, err2 error
	rec.ID.Num, err1 = strconv.ParseUint(num, 10, 64)
	rec.Made, err2 = strconv.ParseUint(made, 10, 64)
	if rec.Op == room.OpNone || node == "" || err1 != nil || err2 != nil || strings.Contains(nick, " ") {
		return room.Record{}, fmt.Errorf("ircish: bad record %q", head)
	}
	return rec, nil
}
