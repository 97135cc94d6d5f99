package ircish

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A Cluster says how a Server serves its room together with other
// servers, through a NATS JetStream stream (see JoinCluster).
type Cluster struct {
	URLs     string // NATS server URLs, comma-separated
	Creds    string // a NATS credentials file, or ""
	CA       string // a PEM file of the CAs that vouch for NATS's TLS certificates, or "": the system's
	Name     string // this server's name in logs
	Replicas int    // the stream's replicas, if it is created: 1 by default
}

// Names of the cluster's stream and subjects. Messages go to one subject,
// so that the last -history of them can be kept; all else a member does
// goes to a subject of its own, which is deleted once the member has left
// and nothing it said is kept any more.
const (
	streamName     = "ircish"
	sayingsSubject = "ircish.say"
	memberSubjects = "ircish.m.>"
	anySubject     = "ircish.>"
	aliveSubject   = "ircish.alive" // heartbeats, core NATS: not kept
)

// Timings of the cluster: a server says it is alive every aliveEvery; one
// not heard from for lostAfter is lost, and its users leave the room.
// A server never heard from is lost once this server has listened for
// heartbeats for startupListen. A server that has not heard its own
// heartbeat for fenceAfter fences itself (see checkFence); the users of a
// lost server are said to leave every lostEvery until they have, by every
// server that heard its own heartbeat within judgeWithin.
const (
	aliveEvery    = time.Second
	fenceAfter    = 3 * time.Second
	lostAfter     = 4 * time.Second
	startupListen = 2500 * time.Millisecond
	lostEvery     = 5 * time.Second
	judgeWithin   = 2 * time.Second
	compactEvery  = 10 * time.Second
	reconnectWait = 500 * time.Millisecond
)

// reasonServerLost is the reason in the LEFT line of a user whose server
// was lost.
const reasonServerLost = "server lost"

// JoinCluster makes s serve its room with the other servers that use the
// NATS servers of c: every record of what members do goes through the
// cluster's stream, and every server applies the stream's records in its
// order. It connects, creates the stream if need be, and reads the room's
// state from it before it returns. Call it before Serve.
func (s *Server) JoinCluster(ctx context.Context, c Cluster) error {
	s.init()
	id := make([]byte, 6)
	rand.Read(id)
	e := &cluster{
		r:        s.room,
		log:      s.log(),
		id:       hex.EncodeToString(id),
		name:     c.Name,
		lastSeen: make(map[string]time.Time),
		reached:  make(map[string]int64),
		names:    make(map[string]string),
		proposed: make(map[string]time.Time),
		missed:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		onFence:  s.fence,
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	// NATS refusing this server ends the wait to join at once, if there
	// is no other NATS to try: trying again will not help until an
	// operator acts.
	ctx, refuse := context.WithCancelCause(ctx)
	defer refuse(nil)
	// warnNew logs a failure NATS reports, unless it has been logged since
	// this server last connected: NATS that refuses it says so at every
	// try. nats.go calls the handlers one at a time.
	logged := make(map[string]bool)
	oneURL := !strings.Contains(c.URLs, ",")
	warnNew := func(msg string, err error) {
		if refusal(err) && oneURL { // another may take this server
			refuse(err)
		}
		if !logged[err.Error()] {
			logged[err.Error()] = true
			e.log.Warn(msg, slog.Any("err", err))
		}
	}
	opts := []nats.Option{
		nats.Name("ircish " + c.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), // NATS may be starting too
		// Back well within fenceAfter after a blip.
		nats.ReconnectWait(reconnectWait),
		// Go on trying when NATS refuses the credentials, as when it is
		// away: they may be put right (each try reads the file again),
		// and nats.go gives up for good after a second refusal otherwise.
		nats.IgnoreAuthErrorAbort(),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			e.log.Warn("nats disconnected", slog.Any("err", err))
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			warnNew("nats reconnect failed; trying again", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			warnNew("nats error", err)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { e.maxPayload.Store(nc.MaxPayload()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.maxPayload.Store(nc.MaxPayload())
			clear(logged)
			e.log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
			e.heard()
		}),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.CA != "" {
		opts = append(opts, nats.RootCAs(c.CA))
	}
	nc, err := nats.Connect(c.URLs, opts...)
	if err != nil {
		return fmt.Errorf("cannot connect to NATS at %s: %w", c.URLs, err)
	}
	e.nc = nc
	if err := e.start(ctx, max(1, c.Replicas)); err != nil {
		if !nc.IsConnected() {
			why := nc.LastError()
			if cause := context.Cause(ctx); refusal(cause) {
				why = cause
			}
			err = fmt.Errorf("cannot connect to NATS at %s: %w", c.URLs, cmp.Or(why, err))
		}
		e.cancel()
		nc.Close()
		return err
	}
	e.maxPayload.Store(nc.MaxPayload())
	s.room.mu.Lock()
	s.room.engine, s.room.node = e, e.id
	s.room.mu.Unlock()
	s.cluster = e
	s.room.mu.Lock()
	users := len(s.room.state.people)
	s.room.mu.Unlock()
	e.log.Info("joined cluster", slog.String("nats", nc.ConnectedUrlRedacted()), slog.String("node", c.Name),
		slog.String("id", e.id), slog.Int("replicas", e.replicas), slog.Int("users", users))
	return nil
}

// refusal reports whether err is NATS refusing this server: its
// credentials, or the certificate of NATS, which this server does not
// trust.
func refusal(err error) bool {
	var untrusted *tls.CertificateVerificationError
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.As(err, &untrusted)
}

// A cluster is the room's engine in a cluster: a NATS JetStream stream
// orders the records, and a consumer applies them in its order.
type cluster struct {
	r        *room
	log      *slog.Logger
	id       string // this server's node in member ids and subjects
	name     string
	replicas int // the stream's
	nc       *nats.Conn
	js       jetstream.JetStream
	stream   jetstream.Stream
	cons     jetstream.ConsumeContext
	sub      *nats.Subscription
	fenced   atomic.Bool // cut off from NATS or the stream: clients refused
	// maxPayload is the NATS server's max_payload, as it last said: asking
	// nats.go waits for its connection's lock, held while it reconnects.
	maxPayload atomic.Int64
	onFence    func() // tells the clients to go, as the fence begins
	pub        *publisher
	applied    atomic.Int64  // the stream seq of the last message applied
	published  atomic.Int64  // the stream seq of this server's last message published
	reading    *reading      // the read of the stream whose records apply; r.mu guards it
	missed     chan struct{} // has a token when records were deleted before they were read
	rereading  atomic.Bool   // reading the room afresh: fenced until it is read
	fenceMu    sync.Mutex    // one checkFence at a time
	closeOnce  sync.Once
	stop       chan struct{}   // closed by close
	ctx        context.Context // canceled by close, for the calls to NATS under way
	cancel     context.CancelFunc
	tasks      sync.WaitGroup

	mu        sync.Mutex
	listening time.Time            // since when heartbeats are heard
	lastSeen  map[string]time.Time // by node: when it was last heard
	reached   map[string]int64     // by node: the stream seq it had applied, as it last said
	names     map[string]string    // by node: its name, for the log
	proposed  map[string]time.Time // by node: when its users were last said to leave
	departed  []departure          // members gone, whose subjects are to go (see isLast)
}

// A departure is a member gone for good (see isLast), and the seq of its
// last record.
type departure struct {
	id  memberID
	seq int64
}

// start creates the stream if need be, reads it to its end and starts
// heartbeats, the watch for lost servers and compaction.
func (e *cluster) start(ctx context.Context, replicas int) error {
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		return err
	}
	err = retry(ctx, func(ctx context.Context) error {
		e.stream, err = e.openStream(ctx, replicas)
		return err
	})
	if errors.Is(err, nats.ErrNoResponders) {
		err = fmt.Errorf("%w (is JetStream on? nats-server -js turns it on)", err)
	}
	if err != nil {
		return fmt.Errorf("cannot open the stream %s: %w", streamName, err)
	}
	e.replicas = e.stream.CachedInfo().Config.Replicas
	if e.sub, err = e.nc.Subscribe(aliveSubject, e.alive); err != nil {
		return err
	}
	// Heard from while it reads the stream, this server has compaction
	// keep what it has yet to read (see keptFrom, readToEnd).
	e.beat()
	if err := e.readRoom(ctx); err != nil {
		return err
	}
	e.heard()
	e.pub = newPublisher(e)
	e.tasks.Add(4)
	go e.watch()
	go e.compactor()
	go e.rereader()
	go e.pub.run()
	if err := e.clearLost(ctx); err != nil {
		e.cancel()
		close(e.stop)
		e.tasks.Wait()
		e.cons.Stop()
		return err
	}
	return nil
}

// openStream opens the room's stream. The first server to start creates
// it; the others, and any started at the same time, find it.
func (e *cluster) openStream(ctx context.Context, replicas int) (jetstream.Stream, error) {
	stream, err := e.js.Stream(ctx, streamName)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return stream, err
	}
	stream, err = e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "the records of an ircish room",
		Subjects:    []string{sayingsSubject, memberSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return e.js.Stream(ctx, streamName)
	}
	return stream, err
}

// firstKept returns the stream seq of the first message said that the
// stream keeps, whose state is info; if it keeps none, of the next.
// Messages before it are gone, for HISTORY.
func (e *cluster) firstKept(ctx context.Context, info *jetstream.StreamInfo) (uint64, error) {
	if info.State.Msgs == 0 {
		return info.State.FirstSeq, nil
	}
	msg, err := e.stream.GetMsg(ctx, info.State.FirstSeq, jetstream.WithGetMsgSubject(sayingsSubject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return info.State.LastSeq + 1, nil
	}
	if err != nil {
		return 0, err
	}
	return msg.Sequence, nil
}

// A reading is one read of the room from the stream, from its first
// message on, into a state of its own. It is whole if it missed no
// message: it got every one the stream held as it began, and no seq after
// those jumped (see receive). Compaction may delete records while a
// server starts, before it hears that server (see keptFrom). Once it got
// to the stream's end whole, its records are the room's: the members here
// are sent what they do.
type reading struct {
	last, msgs uint64        // the stream's last seq, and how many messages it held, as it began
	got        uint64        // how many of those it got
	ready      chan struct{} // closed once it got to the stream's end, or missed a message
	end, whole bool
}

// readRoom reads the room's state afresh from the stream, in a new
// reading, and returns once it got to the stream's end; its records go on
// being applied as they come. It reads again as long as records were
// deleted before it read them.
func (e *cluster) readRoom(ctx context.Context) error {
	opts := []jetstream.PullConsumeOpt{
		// Short pulls with frequent heartbeats: if the consumer's NATS
		// node goes, the ordered consumer notices within a second or two
		// and starts again where it was, rather than in 30 s.
		jetstream.PullExpiry(2 * time.Second), jetstream.PullHeartbeat(500 * time.Millisecond),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			e.log.Warn("reading the stream", slog.Any("err", err))
		}),
	}
	for {
		var info *jetstream.StreamInfo
		var firstKept uint64 // the stream seq of the first message it keeps
		var cons jetstream.Consumer
		err := retry(ctx, func(ctx context.Context) (err error) {
			if info, err = e.stream.Info(ctx); err != nil {
				return err
			}
			if firstKept, err = e.firstKept(ctx, info); err != nil {
				return err
			}
			cons, err = e.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
			return err
		})
		if err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		rd := &reading{last: info.State.LastSeq, msgs: info.State.Msgs, ready: make(chan struct{})}
		r := e.r
		r.mu.Lock()
		r.state = newState(newRing(r.state.history.size, int64(firstKept)<<batchBits-1))
		e.reading = rd
		e.mu.Lock()
		e.departed = nil
		e.mu.Unlock()
		// What is gone is applied, as far as it matters: the records that
		// compaction deleted made no difference to the room as it is.
		e.applied.Store(int64(info.State.FirstSeq) - 1)
		if rd.msgs == 0 {
			e.finish(rd, false)
		}
		r.mu.Unlock()
		if e.cons, err = cons.Consume(func(msg jetstream.Msg) { e.receive(rd, msg) }, opts...); err != nil {
			return fmt.Errorf("cannot read the stream %s: %w", streamName, err)
		}
		if err := e.readToEnd(ctx, rd); err != nil {
			e.cons.Stop()
			return err
		}
		r.mu.Lock()
		whole := rd.whole
		r.mu.Unlock()
		if whole {
			return nil
		}
		e.log.Warn("records deleted while this server read them: reading the stream again")
		e.cons.Stop()
	}
}

// retry calls f until it succeeds, fails for want of JetStream, or ctx
// ends: a JetStream cluster just started answers only once it has elected
// its leaders, which takes seconds.
func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(try)
		cancel()
		if err == nil || errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}

// readToEnd waits until the reading rd has got to the stream's end.
func (e *cluster) readToEnd(ctx context.Context, rd *reading) error {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-rd.ready:
			return nil
		case <-tick.C:
			// In case compaction deleted the last records on the way, and
			// no record says that none is pending: the stream holds none
			// after the last applied. (Not the consumer's own count: asking
			// for it waits while the consumer is made again.)
			e.beat()
			stream, err := e.stream.Info(ctx)
			if err != nil {
				break
			}
			last := int64(stream.State.LastSeq)
			applied := e.applied.Load()
			if applied < last {
				if next, err := e.nextStored(ctx, applied+1); err != nil || next != 0 {
					break // on its way
				}
			}
			e.r.mu.Lock()
			if e.reading == rd {
				e.finish(rd, last > max(applied, int64(rd.last)))
			}
			e.r.mu.Unlock()
		case <-ctx.Done():
			return fmt.Errorf("reading the stream %s: %w", streamName, ctx.Err())
		}
	}
}

// nextStored returns the stream seq of the first message the stream holds
// from seq on, or 0 if it holds none.
func (e *cluster) nextStored(ctx context.Context, seq int64) (int64, error) {
	msg, err := e.stream.GetMsg(ctx, uint64(seq), jetstream.WithGetMsgSubject(anySubject))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return int64(msg.Sequence), nil
}

// clearLost waits, if the room has users of other servers, to hear from
// those servers, and has the users of those not heard within startupListen
// leave before this server takes clients: after a crash, they may be its
// own former users, reconnecting under their nicks.
func (e *cluster) clearLost(ctx context.Context) error {
	// unheard reports whether the room has users of servers not heard yet;
	// with lostOnly, of servers lost.
	unheard := func(lostOnly bool) bool {
		e.r.mu.Lock()
		defer e.r.mu.Unlock()
		e.mu.Lock()
		defer e.mu.Unlock()
		now := time.Now()
		for _, p := range e.r.state.people {
			_, heard := e.lastSeen[p.id.node]
			if p.id.node != e.id && (lostOnly && e.lost(p.id.node, now) || !lostOnly && !heard) {
				return true
			}
		}
		return false
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(startupListen + time.Millisecond)
	for listening := true; listening && unheard(false); {
		select {
		case <-tick.C:
		case <-deadline:
			listening = false
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e.leaveLost()
	for unheard(true) {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the users of lost servers to leave: %w", ctx.Err())
		}
	}
	return nil
}

// receive applies the records of a message that the reading rd got.
// The consumer calls it for one message after another, in the stream's
// order. Until rd has got to the stream's end, it applies them to the
// state only: the members here, if any, are on their way out (see
// rereader).
func (e *cluster) receive(rd *reading, msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		e.log.Error("stream record without metadata", slog.Any("err", err))
		return
	}
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if rd != e.reading { // given up
		return
	}
	// Compaction deletes only what every server counted has applied, and
	// what was gone as the reading began is seen in its count (see
	// finish): a jump past both means records this server had yet to
	// apply were deleted. It was not counted: not heard from for
	// lostAfter, or starting.
	if next := max(e.applied.Load(), int64(rd.last)) + 1; int64(md.Sequence.Stream) > next {
		if !rd.whole {
			e.reading = nil
			e.finish(rd, true) // readRoom reads again
			return
		}
		e.missedRecords(next, int64(md.Sequence.Stream)-1)
		return
	}
	if md.Sequence.Stream <= rd.last {
		rd.got++
	}
	if rd.whole && len(r.members) > 0 {
		// Room for the lines these records make, which are about as long:
		// grown once rather than line by line.
		r.pending = slices.Grow(r.pending, len(msg.Data()))
	}
	// A record's seq is its message's, and its place in it.
	seq := int64(md.Sequence.Stream) << batchBits
	for rec, err := range records(msg.Data()) {
		if err != nil {
			e.log.Error("bad stream record", slog.Uint64("seq", md.Sequence.Stream), slog.Any("err", err))
			break
		}
		rec.seq, rec.at = seq, md.Timestamp
		seq++
		var ev event
		if rd.whole {
			ev = r.apply(rec)
		} else {
			ev = r.state.apply(rec)
		}
		if isLast(rec, ev) {
			e.mu.Lock()
			e.departed = append(e.departed, departure{rec.id, rec.seq})
			e.mu.Unlock()
		}
	}
	e.applied.Store(int64(md.Sequence.Stream))
	if md.NumPending == 0 {
		e.finish(rd, false)
	}
}

// missedRecords notes that records from the stream seq from to to, which
// this server had yet to apply, were deleted: it has the room read afresh.
// The caller holds r.mu.
func (e *cluster) missedRecords(from, to int64) {
	e.log.Warn("records deleted before this server read them: reading the room afresh",
		slog.Int64("from", from), slog.Int64("to", to))
	e.readAfresh()
}

// readAfresh has the room read afresh (see rereader), and applies nothing
// until then. The caller holds r.mu.
func (e *cluster) readAfresh() {
	e.reading = nil
	select {
	case e.missed <- struct{}{}:
	default:
	}
}

// finish ends the reading rd: it got to the stream's end, or missed a
// message after those the stream held as it began. It is whole unless it
// missed one, or got fewer of those. The caller holds r.mu.
func (e *cluster) finish(rd *reading, missed bool) {
	if rd.end {
		return
	}
	rd.end, rd.whole = true, !missed && rd.got >= rd.msgs
	if rd.whole && int64(rd.last) > e.applied.Load() {
		// The last messages were deleted before it began: a leave, say,
		// that every server had applied.
		e.applied.Store(int64(rd.last))
	}
	close(rd.ready)
}

// isLast reports whether rec, which did ev, is the last record of its
// member: a leave (of a member present or not), or a join refused, as a
// client that asks again for a nick is another member.
func isLast(rec record, ev event) bool {
	return rec.op == opLeave || rec.op == opJoin && ev.op == opRefuse
}

// submit queues rec, numbered in m's count, for the stream (see
// publisher). It waits only while the queue is full.
func (e *cluster) submit(m *member, rec record) error {
	// A record is its text and nick, headed by less than 64 bytes: only a
	// NATS of a small max_payload needs the exact check.
	if over := len(rec.text) + len(rec.nick) + 64 - e.maxMessage(); over > 0 {
		if over := len(appendRecord(nil, rec)) - e.maxMessage(); over > 0 {
			if rec.op != opLeave {
				return errorf(CodeLineTooLong, fmt.Sprintf("the cluster's NATS takes messages of at most %d bytes: this one was dropped", e.maxMessage()+msgHeaderRoom))
			}
			rec.text = cutText(rec.text, len(rec.text)-over) // the reason: a leave must go
		}
	}
	r := e.r
	r.mu.Lock()
	if rec.op != opLeave {
		if err := r.silenced(m); err != nil {
			r.mu.Unlock()
			return err
		}
	}
	if m.wait == nil {
		m.wait = &waiter{verdict: make(chan verdict, 1)}
	}
	m.wait.sent++
	rec.n = m.wait.sent
	if rec.op == opSay {
		m.wait.unapplied++
	}
	r.mu.Unlock()
	return e.pub.add(m, rec)
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
func (e *cluster) maxMessage() int {
	return min(maxBatchBytes, int(cmp.Or(e.maxPayload.Load(), defaultMaxPayload))-msgHeaderRoom)
}

// defaultMaxPayload is NATS's max_payload unless it is configured.
const defaultMaxPayload = 1 << 20

// beat sends this server's heartbeat: see alive.
func (e *cluster) beat() {
	e.nc.Publish(aliveSubject, fmt.Appendf(nil, "%s %d %s", e.id, e.applied.Load(), e.name))
}

// alive notes the heartbeat of a server, this one's included: "<node>
// <applied> <name>", applied being the stream seq of the last message it
// applied.
func (e *cluster) alive(msg *nats.Msg) {
	node, name, _ := strings.Cut(string(msg.Data), " ")
	// From a server of an earlier version, "<node> <name>": compaction
	// keeps all for it (reached 0) until it is gone or upgraded.
	var seq int64
	if applied, rest, ok := strings.Cut(name, " "); ok {
		if n, err := strconv.ParseInt(applied, 10, 64); err == nil {
			seq, name = n, rest
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.names[node]; !ok && node != e.id {
		e.log.Info("server found", slog.String("node", name), slog.String("id", node))
	}
	e.lastSeen[node] = time.Now()
	e.reached[node] = seq
	e.names[node] = name
}

// heard counts every server as heard from now: after this server
// (re)connects, they have lostAfter to be heard again, and those never
// heard startupListen.
func (e *cluster) heard() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := time.Now()
	e.listening = now
	for node := range e.lastSeen {
		e.lastSeen[node] = now
	}
	e.lastSeen[e.id] = now
}

// lost reports whether the server node is lost at now. The caller holds
// e.mu.
func (e *cluster) lost(node string, now time.Time) bool {
	if seen, ok := e.lastSeen[node]; ok {
		return now.Sub(seen) > lostAfter
	}
	return now.Sub(e.listening) > startupListen
}

// watch says this server is alive, fences it while it is cut off and has
// the users of lost servers leave, until the cluster is closed.
func (e *cluster) watch() {
	defer e.tasks.Done()
	tick := time.NewTicker(aliveEvery)
	defer tick.Stop()
	var reader stallWatch
	for {
		e.beat()
		e.checkStall(&reader)
		e.checkFence(e.pub.stuck())
		if !e.fenced.Load() {
			e.leaveLost()
		}
		select {
		case <-tick.C:
		case <-e.stop:
			return
		}
	}
}

// A stallWatch tells whether this server's reader of the stream has
// stalled: it has applied nothing for stallAfter while the stream holds
// more. nats.go makes a consumer the stream lost again by itself, trying
// after 1, 2, 4, 8 and then every 10 s; one it can never make again (the
// stream takes no more consumers, say) would leave this server serving a
// room that no longer changes.
type stallWatch struct {
	applied int64
	behind  time.Time // since when applied has been behind, unchanged; zero if it is not
}

// stallAfter is how long a reader may apply nothing while the stream holds
// more: longer than nats.go takes to make a consumer again after NATS
// moves a stream (see stuckAfter).
const stallAfter = 30 * time.Second

// stalled notes that the reader has applied the stream up to applied and
// that the stream holds at least up to known, at now, and reports whether
// the reader has stalled.
func (w *stallWatch) stalled(applied, known int64, now time.Time) bool {
	if applied != w.applied || known <= applied {
		w.applied, w.behind = applied, time.Time{}
		return false
	}
	if w.behind.IsZero() {
		w.behind = now
	}
	return now.Sub(w.behind) >= stallAfter
}

// checkStall has the room read afresh, with a new reader, once the reader
// has stalled (see stallWatch). The stream holds at least what this
// server last published and what the other servers it hears say they
// have applied. A server cut off hears none, and its reader waits for
// NATS, as does one reading the room afresh: their readers are not
// judged.
func (e *cluster) checkStall(w *stallWatch) {
	e.mu.Lock()
	now := time.Now()
	judge := now.Sub(e.lastSeen[e.id]) <= judgeWithin && !e.rereading.Load()
	known := e.published.Load()
	for node, seq := range e.reached {
		if node != e.id && !e.lost(node, now) {
			known = max(known, seq)
		}
	}
	e.mu.Unlock()
	applied := e.applied.Load()
	if !judge {
		*w = stallWatch{}
		return
	}
	if !w.stalled(applied, known, now) {
		return
	}
	*w = stallWatch{}
	// A heartbeat may say more than the stream holds (one of a server of
	// an earlier version, whose name begins with a number): ask it.
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	next, err := e.nextStored(ctx, applied+1)
	cancel()
	if err != nil || next == 0 {
		return
	}
	e.r.mu.Lock()
	rd := e.reading
	live := rd != nil && rd.whole && !e.rereading.Load() && e.applied.Load() == applied
	if live {
		e.readAfresh()
	}
	e.r.mu.Unlock()
	if live { // else read afresh already, or applying again
		e.log.Warn("reading the stream stalled: reading the room afresh",
			slog.Int64("applied", applied), slog.Int64("stored", known), slog.Duration("for", stallAfter))
	}
}

// compactor compacts the stream every compactEvery while this server is
// the one to (see compacts), until the cluster is closed. It is apart from
// watch, as a stream without a quorum may keep it waiting for compactEvery,
// and heartbeats must not wait.
func (e *cluster) compactor() {
	defer e.tasks.Done()
	tick := time.NewTicker(compactEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-e.stop:
			return
		}
		e.tidy()
	}
}

// rereader reads the room afresh from the stream whenever this server
// finds that records it had yet to apply were deleted (see receive), or
// that its reader has stalled (see checkStall), until the cluster is
// closed. Its state may lack a leave, or have missed
// lines: so that no client is served a room that differs from the
// others', the server is fenced until it has read the room again.
func (e *cluster) rereader() {
	defer e.tasks.Done()
	for {
		select {
		case <-e.missed:
		case <-e.stop:
			return
		}
		e.rereading.Store(true)
		e.checkFence(e.pub.stuck())
		e.r.release()
		e.cons.Stop()
		e.applied.Store(0) // compaction keeps all for this server meanwhile
		for e.readRoom(e.ctx) != nil {
			select {
			case <-time.After(time.Second): // the stream is away: try again
			case <-e.stop:
				return
			}
		}
		e.log.Info("room read afresh", slog.Int64("applied", e.applied.Load()))
		// The fence ends once the clients here, told to go, have seen it.
		for start := time.Now(); e.r.joiners() > 0 && time.Since(start) < askTimeout; {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-e.stop:
				return
			}
		}
		e.rereading.Store(false)
		e.checkFence(e.pub.stuck())
	}
}

// checkFence fences this server once it has not heard its own heartbeat
// for fenceAfter, or its records are stuck (see publisher.stuck), or it
// reads the room afresh, and ends the fence once none is so and it has
// applied all that the stream holds (see atEnd). Cut off from NATS, a
// server must not go on as a room of its own: the others will have its
// users leave after lostAfter, which is longer. Cut off from the stream
// only, it would keep its clients waiting for nothing; it goes on saying
// it is alive, so that its users stay in the room until their records,
// held, are in the stream (and their leaving after them).
func (e *cluster) checkFence(stuck bool) {
	e.fenceMu.Lock()
	defer e.fenceMu.Unlock()
	e.mu.Lock()
	heard := e.lastSeen[e.id]
	e.mu.Unlock()
	cutOff := stuck || time.Since(heard) > fenceAfter || e.rereading.Load()
	if cutOff == e.fenced.Load() || !cutOff && !e.atEnd() {
		return
	}
	e.fenced.Store(cutOff)
	if cutOff {
		e.log.Warn("cut off from the cluster: clients told to go, and refused",
			slog.Duration("unheard", time.Since(heard).Round(time.Millisecond)), slog.Bool("stuck", stuck),
			slog.Bool("rereading", e.rereading.Load()))
		e.pub.wake()
		e.onFence()
		return
	}
	e.log.Info("back in the cluster: serving again")
	e.heard()
}

// atEnd reports whether this server has applied all that the stream
// holds, as it must have before it serves again after a fence: back from
// a cut, its reader may not have found yet that records it had yet to
// apply were deleted meanwhile, the last ones included. If nothing more
// is on its way, it has; and if records are missing, it has the room read
// afresh.
func (e *cluster) atEnd() bool {
	e.r.mu.Lock()
	rd := e.reading
	live := rd != nil && rd.whole
	e.r.mu.Unlock()
	if !live { // being read
		return false
	}
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	stream, err := e.stream.Info(ctx)
	if err != nil {
		return false
	}
	// In a busy room, the records stored up to now are on their way.
	last := int64(stream.State.LastSeq)
	for wait := time.Now(); e.applied.Load() < last; time.Sleep(5 * time.Millisecond) {
		if time.Since(wait) > 200*time.Millisecond {
			break
		}
	}
	applied := e.applied.Load()
	if applied >= last {
		return true
	}
	// The next record to apply is never one that compaction deletes:
	// if the stream lacks it, it was deleted unread.
	next, err := e.nextStored(ctx, applied+1)
	if err != nil || next == applied+1 || e.applied.Load() != applied {
		return false // on its way, or no answer
	}
	to := last
	if next != 0 {
		to = next - 1
	}
	e.r.mu.Lock()
	if e.reading == rd {
		e.missedRecords(applied+1, to)
	}
	e.r.mu.Unlock()
	return false
}

// leaveLost publishes, for each user of a server lost, that it left.
// Every server does, every lostEvery for as long as the user is in the
// room: the stream keeps one record per user (see publish), and the fold
// makes any other nothing. A server that has not heard its own heartbeat
// within judgeWithin may be the one cut off: it judges no other.
func (e *cluster) leaveLost() {
	e.mu.Lock()
	cutOff := time.Since(e.lastSeen[e.id]) > judgeWithin
	e.mu.Unlock()
	if cutOff {
		return
	}
	e.r.mu.Lock()
	var ids []memberID
	for _, p := range e.r.state.people {
		if p.id.node != e.id {
			ids = append(ids, p.id)
		}
	}
	e.r.mu.Unlock()
	now := time.Now()
	e.mu.Lock()
	lost := make(map[string]int)
	for _, id := range ids {
		if e.lost(id.node, now) && now.Sub(e.proposed[id.node]) >= lostEvery {
			lost[id.node]++
		}
	}
	for node, n := range lost {
		e.log.Warn("server lost", slog.String("node", e.names[node]), slog.String("id", node), slog.Int("users", n))
		e.proposed[node] = now
	}
	e.mu.Unlock()
	for _, id := range ids {
		if lost[id.node] > 0 {
			msg := nats.NewMsg(memberSubject(id))
			msg.Data = appendRecord(nil, record{op: opLeave, id: id, text: reasonServerLost})
			msg.Header.Set(jetstream.MsgIDHeader, "lost."+id.node+"."+strconv.FormatUint(id.conn, 10))
			e.js.PublishMsgAsync(msg) // if it fails, the next round publishes again
		}
	}
}

// compacts reports whether this server is the one to compact the stream:
// of the servers heard from lately, the one of the least id.
func (e *cluster) compacts() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for node, seen := range e.lastSeen {
		if node < e.id && time.Since(seen) < lostAfter {
			return false
		}
	}
	return true
}

// tidy compacts the stream if this server is the one to. Else it forgets
// the departures that one deletes the subjects of, as it uses the same
// bound (keptFrom); it keeps those it would still have to delete, should
// it take over.
func (e *cluster) tidy() {
	switch {
	case e.fenced.Load(): // it may be the one to compact, once back
	case e.compacts():
		e.compact()
	default:
		e.takeDeparted(e.keptFrom())
	}
}

// compact deletes from the stream the messages said before the oldest
// one still kept (see ring), and the subjects of members who left before
// it: what remains still gives every server that reads it the room as it
// is, and its last -history messages. It deletes nothing that a server
// heard from lately has yet to apply: a server that lags, its reader
// stalled or its NATS blinking, must still find every record it needs.
func (e *cluster) compact() {
	ctx, cancel := context.WithTimeout(e.ctx, compactEvery)
	defer cancel()
	keptFrom := e.keptFrom()
	err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(sayingsSubject), jetstream.WithPurgeSequence(uint64(keptFrom)))
	if err != nil {
		e.log.Warn("compaction failed", slog.Any("err", err))
		return
	}
	gone := e.takeDeparted(keptFrom)
	for i, d := range gone {
		if err := e.stream.Purge(ctx, jetstream.WithPurgeSubject(memberSubject(d.id))); err != nil {
			e.log.Warn("compaction failed", slog.Any("err", err))
			e.mu.Lock()
			e.departed = append(gone[i:], e.departed...) // for the next time
			e.mu.Unlock()
			return
		}
	}
}

// keptFrom returns the stream seq from which on compaction keeps the
// stream: that of the oldest message in history (or the next to apply if
// it has none), unless a server heard from lately has yet to apply it.
func (e *cluster) keptFrom() int64 {
	e.r.mu.Lock()
	from := e.applied.Load() + 1
	if h := &e.r.state.history; len(h.entries) > 0 {
		from = h.at(0).seq >> batchBits
	}
	e.r.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	for node, seen := range e.lastSeen {
		if node != e.id && time.Since(seen) < lostAfter {
			from = min(from, e.reached[node]+1)
		}
	}
	return from
}

// takeDeparted takes from e.departed the departures before the stream
// seq before, and returns them.
func (e *cluster) takeDeparted(before int64) []departure {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := 0
	for i < len(e.departed) && e.departed[i].seq>>batchBits < before {
		i++
	}
	gone := slices.Clone(e.departed[:i])
	e.departed = slices.Delete(e.departed, 0, i)
	return gone
}

// close waits until the records submitted are in the stream, or ctx ends,
// and leaves NATS.
func (e *cluster) close(ctx context.Context) {
	e.closeOnce.Do(func() { e.leave(ctx) })
}

func (e *cluster) leave(ctx context.Context) {
	if n := e.pub.flush(ctx); n > 0 {
		e.log.Error("records not published", slog.Int("records", n))
	}
	close(e.stop)
	e.cancel()
	e.tasks.Wait()
	e.cons.Stop()
	e.sub.Unsubscribe()
	e.nc.Close()
}

// subjectOf returns the subject of rec: see streamName.
func subjectOf(rec record) string {
	if rec.op == opSay {
		return sayingsSubject
	}
	return memberSubject(rec.id)
}

func memberSubject(id memberID) string {
	return "ircish.m." + id.node + "." + strconv.FormatUint(id.conn, 10)
}

// Records in the stream are text, two lines each: "<op> <node> <conn> <n>
// [<nick>]", and the text, as it came (it holds no line feed).
var opNames = [...]string{opJoin: "JOIN", opRename: "RENAME", opSay: "SAY", opWhisper: "WHISPER", opLeave: "LEAVE"}

// appendRecord appends the text of rec to b.
func appendRecord(b []byte, rec record) []byte {
	b = append(b, opNames[rec.op]...)
	b = append(b, ' ')
	b = append(b, rec.id.node...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, rec.id.conn, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, rec.n, 10)
	if rec.nick != "" {
		b = append(append(b, ' '), rec.nick...)
	}
	b = append(append(b, '\n'), rec.text...)
	return append(b, '\n')
}

// records yields the records of a message in turn, and then, if the
// message ends badly, an error. Their strings are parts of one copy of the
// message: one allocation for all of them, however many there are. What
// history keeps of a batch of messages keeps all of it, which costs at
// most one batch (maxBatchBytes) more than history itself: every batch
// but the oldest one in history is in history whole.
func records(msg []byte) iter.Seq2[record, error] {
	return func(yield func(record, error) bool) {
		rest := string(msg)
		for rest != "" {
			head, after, ok1 := strings.Cut(rest, "\n")
			text, after, ok2 := strings.Cut(after, "\n")
			if !ok1 || !ok2 {
				yield(record{}, fmt.Errorf("ircish: record without its end: %q", rest))
				return
			}
			rec, err := decodeHead(head)
			if err != nil {
				yield(record{}, err)
				return
			}
			rec.text = text
			if !yield(rec, nil) {
				return
			}
			rest = after
		}
	}
}

// decodeHead returns the record of a first line: "<op> <node> <conn> <n>
// [<nick>]".
func decodeHead(head string) (record, error) {
	name, rest, _ := strings.Cut(head, " ")
	node, rest, _ := strings.Cut(rest, " ")
	conn, rest, _ := strings.Cut(rest, " ")
	n, nick, _ := strings.Cut(rest, " ")
	rec := record{id: memberID{node: node}, nick: nick}
	for o, opName := range opNames {
		if opName != "" && opName == name {
			rec.op = op(o)
		}
	}
	var err1, err2 error
	rec.id.conn, err1 = strconv.ParseUint(conn, 10, 64)
	rec.n, err2 = strconv.ParseUint(n, 10, 64)
	if rec.op == opNone || node == "" || err1 != nil || err2 != nil || strings.Contains(nick, " ") {
		return record{}, fmt.Errorf("ircish: bad record %q", head)
	}
	return rec, nil
}
