package room

import (
	"time"

	"ircish/ircish"
)

// A Record is one thing a member did, as its engine orders it.
type Record struct {
	Op   Op
	ID   MemberID
	Made uint64    // how many records the member had made, this one included; 0: not the member's
	Nick string    // join, rename: the nick asked for; whisper: whom to
	Text string    // say, whisper: the text; leave: the reason; see also the account ops
	Addr string    // join: the client's IP address, for bans
	Seq  int64     // given by the engine: a message's seq
	At   time.Time // given by the engine: when the record was ordered
}

// An Op is what a record does; OpRefuse is only an event's.
type Op uint8

const (
	OpNone Op = iota
	OpJoin
	OpRename
	OpSay
	OpWhisper
	OpLeave
	OpRefuse

	// Account ops, for registered nicks. Their Text is argon2id hashes
	// (package password): the server checks passwords before it submits a
	// record, and the record says which hash it checked against, so that
	// every server decides alike even if the account changed meanwhile.
	// A join or a rename of a registered nick carries that hash in Text.
	OpRegister   // registers the member's nick; Text: its hash
	OpPassword   // changes it; Text: "<old hash> <new hash>"
	OpUnregister // drops it; Text: the old hash

	// Moderation ops. The server that submits one has checked that its
	// member is an operator (operators are each server's own).
	OpKick   // Nick: whom; Text: the reason
	OpBan    // Nick: the target (nick, IP address or network); Text: "<until> <reason>"
	OpUnban  // Nick: the target
	OpMute   // Nick: whom; Text: "<until> <reason>"
	OpUnmute // Nick: whom
)

// A MemberID names a member across the servers of a cluster: the server
// (Node) it is on, "" in process, and its number there.
type MemberID struct {
	Node string `json:"node"`
	Num  uint64 `json:"num"`
}

// An Event is what a record did, for the room to send: to everyone (join,
// rename, say, leave), to two members (whisper), or an error to the
// member who asked (refuse). An event with op OpNone sends nothing: the
// record came from someone no longer here, or changed nothing.
type Event struct {
	Op    Op
	ID    MemberID      // the one who did it
	To    MemberID      // whisper: the one told
	Nick  string        // the nick of the one who did it (before a rename)
	Arg   string        // rename: the new nick; leave: the reason; whisper: the nick told
	Entry Entry         // say: the message as the room keeps it
	Err   *ircish.Error // refuse

	// Moderation: Arg is the target; Ban what was put in force or lifted
	// (a kick's: only its Reason); Out the members who leave for it.
	// Pointers keep the Event of a MSG small.
	Ban *Ban
	Out []Leaver
}

// A Leaver is a member removed by an operator.
type Leaver struct {
	ID   MemberID
	Nick string
}
