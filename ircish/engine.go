package ircish

import "time"

// An engine puts the records of what the room's members do in one order,
// and has the room apply them in that order. The in-process engine
// (localEngine) orders them with the room's lock; a cluster's (cluster.go)
// with a NATS JetStream stream, which every server of the cluster applies.
type engine interface {
	// submit puts rec, which local member m did, in the room's order, or
	// returns errSilenced if m may no longer be heard. If it applies rec
	// at once, it returns its verdict (see verdictOf); else, for a join,
	// rename or whisper, m.wait.verdict gets it later.
	submit(m *member, rec record) error
}

// A localEngine is the room's engine in process: it applies a record as
// it is submitted, under the room's lock, and gives messages seqs one after
// another.
type localEngine struct {
	r   *room
	seq int64 // of the last message
}

func (e *localEngine) submit(m *member, rec record) error {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.op != opLeave {
		if err := r.silenced(m); err != nil {
			return err
		}
	}
	if rec.op == opSay {
		e.seq++
		rec.seq, rec.at = e.seq, time.Now()
	}
	return verdictOf(m, r.apply(rec))
}
