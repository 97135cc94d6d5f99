package server

import (
	"errors"
	"maps"
	"slices"
	"sync/atomic"

	"ircish/ircish"
)

// The server's counters, which Stats reads for monitoring. They are
// atomic, so that counting takes no lock and allocates nothing: a line
// read or a client gone costs one add. A write batch is added to a tally
// of its goroutine's own, which goes to the meter once per hand-out (or
// per batch, from a writer goroutine). Nothing reads the bytes written to
// count lines: the lines delivered are the room's count (hub.deliveries),
// kept under its lock anyway. Causes and kinds are labels of fixed, small
// sets.

// A meter holds a server's counters. Its methods are safe to call from any
// goroutine, and never block.
type meter struct {
	linesIn     atomic.Int64
	floodDelays atomic.Int64
	bytesOut    atomic.Int64
	batches     [len(batchBounds) + 1]atomic.Int64 // write batches by size: see batchBounds

	dropped     counters // clients dropped, by cause (dropCauses)
	refused     counters // connections refused, by cause (refusalCauses)
	nickRefused counters // first NICKs refused, by cause (see nickRefusal)
	history     counters // HISTORY commands, by kind
}

// batchBounds are the upper bounds, in bytes, of the buckets that count
// write batches to clients, from one short line to a full send queue; the
// last bucket counts the bigger ones.
var batchBounds = [...]int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

// dropCauses names, as labels, the reasons for which the server drops a
// client: the causes of a connection's end (see hangUp) but a quit, a
// lost connection, a read error and shutdown.
var dropCauses = map[string]string{
	reasonSendQueue:       "send_queue",
	reasonWriteTimeout:    "write_timeout",
	reasonLineTooLong:     "line_too_long",
	reasonLineTimeout:     "line_timeout",
	reasonRegisterTimeout: "register_timeout",
	reasonUnregistered:    "lines_before_nick",
	reasonHTTP:            "http",
	reasonTLS:             "tls_handshake",
	reasonCutOff:          "cut_off",
	reasonSentOff:         "operator",
	reasonPanic:           "panic",
}

// refusalCauses names, as labels, the limits that refuse a connection
// (see addConn).
var refusalCauses = map[*ircish.Error]string{
	errServerFull:   "server_full",
	errIPFull:       "ip_limit",
	errIPRate:       "ip_rate",
	errShuttingDown: "shutting_down",
}

func newMeter() *meter {
	return &meter{
		dropped:     newCounters(slices.Collect(maps.Values(dropCauses))...),
		refused:     newCounters(append(slices.Collect(maps.Values(refusalCauses)), "banned")...),
		nickRefused: newCounters("nick_invalid", "nick_in_use", "no_answer", "other"),
		history:     newCounters("last", "after", "live", "search"),
	}
}

// counters are counters by label. The map is not changed once made: only
// its counters are.
type counters map[string]*atomic.Int64

func newCounters(labels ...string) counters {
	c := make(counters, len(labels))
	for _, l := range labels {
		c[l] = new(atomic.Int64)
	}
	return c
}

// add counts one of label, if it is one of c's.
func (c counters) add(label string) {
	if n := c[label]; n != nil {
		n.Add(1)
	}
}

// read returns the counts by label, every label included.
func (c counters) read() map[string]int64 {
	r := make(map[string]int64, len(c))
	for l, n := range c {
		r[l] = n.Load()
	}
	return r
}

// nickRefusal returns the cause, as a label, of err, which refused a
// client's first NICK: "other" is the server shutting down, or the client
// dropped while it waited for the room.
func nickRefusal(err error) string {
	e, ok := ircish.AsError(err)
	switch {
	case errors.Is(err, errNoAnswer):
		return "no_answer" // in a cluster whose NATS does not answer
	case ok && e.Code == ircish.CodeNickInvalid:
		return "nick_invalid"
	case ok && e.Code == ircish.CodeNickInUse:
		return "nick_in_use"
	}
	return "other"
}

// A tally counts what one goroutine writes to clients, to be added to the
// meter at once: the room's hand-outs write to thousands of clients from
// a few goroutines, which would contend for counters added to per write.
type tally struct {
	bytes   int64
	batches [len(batchBounds) + 1]int64
}

// wrote counts a write batch of n bytes; a write of nothing is no batch.
func (t *tally) wrote(n int) {
	if n == 0 {
		return
	}
	t.bytes += int64(n)
	i, _ := slices.BinarySearch(batchBounds[:], n) // the first bound that holds n
	t.batches[i]++
}

// add adds t to m's counters. A nil m counts nothing (an outbox of a
// test).
func (m *meter) add(t *tally) {
	if m == nil || t.bytes == 0 {
		return
	}
	m.bytesOut.Add(t.bytes)
	for i, n := range t.batches {
		if n > 0 {
			m.batches[i].Add(n)
		}
	}
}

// A Bucket counts the write batches of at most Max bytes, those of the
// smaller buckets included, as Prometheus's histograms count.
type Bucket struct {
	Max   int
	Count int64
}

// batchSizes returns how many write batches there were, and the buckets of
// their sizes.
func (m *meter) batchSizes() (int64, []Bucket) {
	buckets := make([]Bucket, len(batchBounds))
	var total int64
	for i := range m.batches {
		total += m.batches[i].Load()
		if i < len(batchBounds) {
			buckets[i] = Bucket{batchBounds[i], total}
		}
	}
	return total, buckets
}

// stats returns the number of members here and of lines queued for them
// so far.
func (h *hub) stats() (members int, deliveries int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.members), h.deliveries
}
