// Package cluster is the room's engine for a cluster of servers: a NATS
// JetStream stream orders the records of what members do, and every
// server applies the stream's records in its order (see room.Engine).
//
// Types worth knowing: Config says which NATS to use; Engine, made by
// New, is the engine a server.Server is given with UseEngine.
//
// # Goroutines and who owns what
//
// An Engine runs seven goroutines: the stream's consumer, which hands the
// room the records as they come (receive, in reading.go); the rereader,
// which reads the room afresh from the stream, should messages this
// server had yet to apply be deleted, its reader stall, or the stream be
// another; the publisher (publisher.go), which sends this server's
// records to the stream, one NATS message at a time; the leaser
// (lease.go), which sends the stream this server's lease, and its
// heartbeat, every second; the watch (watch.go), which fences the server
// while the stream does not take its lease; the placer (placer.go), which
// keeps its reader of the stream on its own NATS node; and the compactor
// (compact.go), which stores a snapshot of the room and deletes the
// messages before it.
//
// Its locks, taken in this order, and only ever before the room's (see
// room.Engine): fenceMu, one fence check at a time; readMu, the reading
// under way, what it applies, and the servers as the stream tells of them
// (see nodes); mu, what the heartbeats tell of the other servers.
package cluster

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish"
	"ircish/ircish/room"
)

// A Config says how a server serves its room together with other
// servers, through a NATS JetStream stream.
type Config struct {
	URLs     string       // NATS server URLs, comma-separated
	Creds    string       // a NATS credentials file, or ""
	CA       string       // a PEM file of the CAs that vouch for NATS's TLS certificates, or "": the system's
	Name     string       // this server's name in logs
	Replicas int          // the stream's replicas, if it is created: 1 by default
	Log      *slog.Logger // nil: no log
}

// Timings of the cluster. A server sends the stream its lease every
// aliveEvery; one whose messages the stream has not taken for lostAfter
// (of the stream's time: see nodes) is lost, and its users leave the room.
// A server whose lease has waited fenceAfter for the stream fences itself
// (see checkFence), sooner than the others have its users leave; unless
// another server's heartbeat said within judgeWithin that its lease waits
// too (the stream takes nobody's), and then after maxPause, longer than
// NATS takes to move a stream's leader.
const (
	aliveEvery    = time.Second
	fenceAfter    = 3 * time.Second
	lostAfter     = 4 * time.Second
	maxPause      = 15 * time.Second
	judgeWithin   = 2 * time.Second
	compactEvery  = 10 * time.Second
	reconnectWait = 500 * time.Millisecond
)

// reasonServerLost is the reason in the LEFT line of a user whose server
// was lost.
const reasonServerLost = "server lost"

// An Engine is the room's engine in a cluster: a NATS JetStream stream
// orders the records, and a consumer hands them to the room in its order.
type Engine struct {
	cfg      Config
	room     room.Room
	log      *slog.Logger
	id       string // this server's node in member ids and subjects
	replicas int    // the stream's
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	cons     jetstream.ConsumeContext
	sub      *nats.Subscription
	fenced   atomic.Bool // cut off from NATS or the stream: clients refused
	// maxPayload is the NATS server's max_payload, as it last said: asking
	// nats.go waits for its connection's lock, held while it reconnects.
	maxPayload  atomic.Int64
	maxMsgSize  atomic.Int64 // the stream's max_msg_size, if it has one (see fixStream)
	pub         *publisher
	lastApplied atomic.Int64           // the stream seq of the last message applied
	leased      atomic.Int64           // when the stream last took this server's lease, in Unix ns
	leaseSeq    atomic.Int64           // and its stream seq
	leaseErr    atomic.Bool            // the last lease failed: logged once
	moved       atomic.Int64           // when this server last moved to another NATS node, in Unix ns
	denied      atomic.Pointer[denial] // NATS's last permissions violation for publish (see refusal)
	missed      chan struct{}          // has a token when the room is to be read afresh
	rereading   atomic.Bool            // reading the room afresh: fenced until it is read
	fenceMu     sync.Mutex             // one checkFence at a time
	closeOnce   sync.Once
	stop        chan struct{}   // closed by Close
	ctx         context.Context // canceled by Close, for the calls to NATS under way
	cancel      context.CancelFunc
	tasks       sync.WaitGroup

	readMu     sync.Mutex
	reading    *reading      // the read of the stream whose messages apply
	readerName string        // the consumer of its last message applied (see placer)
	recs       []room.Record // the records of the message being applied
	evs        []room.Event  // and their events

	mu    sync.Mutex
	peers map[string]peer // the other servers, by node, as their heartbeats tell
}

// New returns the engine of a server that joins the cluster c, once a
// server is given it (server.Server's UseEngine).
func New(c Config) *Engine {
	id := make([]byte, 6)
	rand.Read(id)
	e := &Engine{
		cfg:    c,
		log:    c.Log,
		id:     hex.EncodeToString(id),
		peers:  make(map[string]peer),
		missed: make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Node returns this server's node: its part of the member ids of its
// users, and of their subjects.
func (e *Engine) Node() string { return e.id }

// Start connects to NATS, creates the stream if need be, and reads the
// room's state from it into r before it returns: every record of what
// members do goes through the stream from then on, and every server
// applies the stream's records in its order.
func (e *Engine) Start(ctx context.Context, r room.Room) error {
	e.room = r
	// NATS refusing this server ends the wait to join at once, if there
	// is no other NATS to try: trying again will not help until an
	// operator acts.
	ctx, refuse := context.WithCancelCause(ctx)
	defer refuse(nil)
	nc, err := nats.Connect(e.cfg.URLs, e.natsOptions(refuse)...)
	if err != nil {
		e.cancel()
		return fmt.Errorf("cannot connect to NATS at %s: %w", e.cfg.URLs, err)
	}
	e.nc = nc
	if err := e.start(ctx); err != nil {
		if !nc.IsConnected() {
			why := nc.LastError()
			if cause := context.Cause(ctx); refusal(cause) {
				why = cause
			}
			err = fmt.Errorf("cannot connect to NATS at %s: %w", e.cfg.URLs, cmp.Or(why, err))
		}
		e.cancel()
		nc.Close()
		return err
	}
	e.maxPayload.Store(nc.MaxPayload())
	users := 0
	r.Read(func(s *room.State) { users = len(s.People()) })
	e.log.Info("joined cluster", slog.String("nats", nc.ConnectedUrlRedacted()), slog.String("node", e.cfg.Name),
		slog.String("id", e.id), slog.Int("replicas", e.replicas), slog.Int("users", users))
	return nil
}

// Submit queues rec for the stream (see publisher). It waits only while
// the queue is full.
func (e *Engine) Submit(rec room.Record) error {
	// A record is its text and nick, headed by less than 64 bytes: only a
	// NATS of a small max_payload needs the exact check.
	if over := len(rec.Text) + len(rec.Nick) + 64 - e.maxMessage(); over > 0 {
		if over := len(appendRecord(nil, rec)) - e.maxMessage(); over > 0 {
			if rec.Op != room.OpLeave {
				return ircish.NewError(ircish.CodeLineTooLong, fmt.Sprintf("the cluster's NATS takes messages of at most %d bytes: this one was dropped", e.maxMessage()+msgHeaderRoom))
			}
			rec.Text = cutText(rec.Text, len(rec.Text)-over) // the reason: a leave must go
		}
	}
	return e.pub.add(rec)
}

// cutText returns s cut to at most n bytes, at the start of a rune.
func cutText(s string, n int) string {
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}

// msgHeaderRoom is room for a message's headers: its id, in fewer than
// 64 bytes.
const msgHeaderRoom = 128

// maxMessage returns the most bytes of records one NATS message may
// hold: NATS refuses a message over its max_payload, headers included.
func (e *Engine) maxMessage() int {
	limit := int(cmp.Or(e.maxPayload.Load(), defaultMaxPayload))
	if size := int(e.maxMsgSize.Load()); size > 0 {
		limit = min(limit, size)
	}
	return min(maxBatchBytes, limit-msgHeaderRoom)
}

// defaultMaxPayload is NATS's max_payload unless it is configured.
const defaultMaxPayload = 1 << 20

// Close waits until the records submitted are in the stream, or ctx ends,
// and leaves NATS.
func (e *Engine) Close(ctx context.Context) {
	e.closeOnce.Do(func() {
		if n := e.pub.flush(ctx); n > 0 {
			e.log.Error("records not published", slog.Int("records", n))
		}
		close(e.stop)
		e.cancel()
		e.tasks.Wait()
		e.cons.Stop()
		e.sub.Unsubscribe()
		e.nc.Close()
	})
}
