package cluster

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ircish/ircish"
	"ircish/ircish/room"
)

// A publisher sends a server's records to the cluster's stream, one
// message at a time, each once the stream has the one before: so the
// records are in the stream in the order they were made, whatever fails
// and is published again. The messages said while the last NATS message
// was on its way go together, as one NATS message on sayingsSubject: the
// busier the room, the more each carries. Any other record goes alone, on
// its member's subject (see streamName).
type publisher struct {
	e *Engine

	mu      sync.Mutex
	queue   []room.Record // made, not yet taken for a message
	roomFor chan struct{} // closed when the queue has room again; made by add
	flying  int           // the records of the message on its way, if one is
	since   time.Time     // since when it is
	more    chan struct{} // has a token when the queue has records
	msgs    uint64        // messages made, for their ids (see msgOrigin)
	sending []room.Record // the records of the message on its way: run's alone

	published atomic.Int64 // records the stream took (see Stats)
	retries   atomic.Int64 // messages published again
}

// Bounds of the queue, and of the bytes of one message: NATS takes
// messages of 1 MB by default. (One message holds maxBatch records at
// most: see seqOf.)
const (
	maxQueued     = 100_000
	maxBatchBytes = 512 << 10
)

func newPublisher(e *Engine) *publisher {
	return &publisher{e: e, more: make(chan struct{}, 1)}
}

// add queues rec, waiting while the queue is full; it returns
// room.ErrSilenced if the server is fenced, or the room or the engine
// closed, meanwhile. (A member dropped meanwhile waits with the others:
// the queue frees in order, or a fence wakes them all.) A leave never
// waits: there is one per member at most, and a member's leaving must not
// wait for a stream that takes nothing.
func (p *publisher) add(rec room.Record) error {
	p.mu.Lock()
	for rec.Op != room.OpLeave && len(p.queue) >= maxQueued {
		if p.e.fenced.Load() {
			p.mu.Unlock()
			return room.ErrSilenced
		}
		if p.roomFor == nil {
			p.roomFor = make(chan struct{})
		}
		wait := p.roomFor
		p.mu.Unlock()
		select {
		case <-wait:
		case <-p.e.room.Closed():
			return room.ErrSilenced
		case <-p.e.stop:
			return room.ErrSilenced
		}
		p.mu.Lock()
	}
	p.queue = append(p.queue, rec)
	p.mu.Unlock()
	select {
	case p.more <- struct{}{}:
	default:
	}
	return nil
}

// wake has the adds waiting for room in the queue look again: the server
// has fenced itself.
func (p *publisher) wake() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.letIn()
}

// letIn wakes the adds waiting for room in the queue. The caller holds
// p.mu.
func (p *publisher) letIn() {
	if p.roomFor != nil {
		close(p.roomFor)
		p.roomFor = nil
	}
}

// run publishes the queue's records until the cluster closes.
func (p *publisher) run() {
	defer p.e.tasks.Done()
	for {
		select {
		case <-p.more:
		case <-p.e.stop:
			return
		}
		for {
			msg := p.next()
			if msg == nil {
				break
			}
			p.publish(msg, p.sending)
			clear(p.sending) // let their strings go
			p.mu.Lock()
			p.flying = 0
			p.mu.Unlock()
		}
	}
}

// next takes from the queue the records of the next message, into
// p.sending, and returns it; nil if the queue is empty.
func (p *publisher) next() *nats.Msg {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return nil
	}
	data := appendRecord(nil, p.queue[0])
	n := 1
	if p.queue[0].Op == room.OpSay {
		limit := p.e.maxMessage()
		for ; n < len(p.queue) && n < maxBatch && p.queue[n].Op == room.OpSay; n++ {
			more := appendRecord(data, p.queue[n])
			if len(more) > limit {
				break
			}
			data = more
		}
	}
	msg := nats.NewMsg(subjectOf(p.queue[0]))
	msg.Data = data
	p.msgs++
	msg.Header.Set(jetstream.MsgIDHeader, p.e.id+"."+strconv.FormatUint(p.msgs, 10))
	p.sending = append(p.sending[:0], p.queue[:n]...)
	clear(p.queue[:n])
	p.queue = p.queue[n:]
	if len(p.queue) == 0 {
		p.queue = nil // let a burst's array go
	}
	if len(p.queue) < maxQueued {
		p.letIn()
	}
	p.flying, p.since = n, time.Now()
	return msg
}

// publish publishes msg, which holds the records recs, and returns once
// the stream has it, refused it for good, or the cluster closes. After a
// failure it publishes it again under the same message id: the stream
// stores one message of an id however often it comes within its
// duplicate window, so no record is stored twice. While it fails, the
// records wait; after stuckAfter the server fences itself (see
// checkFence), and after giveUpAfter, well within the duplicate window,
// it sends it no more, nor any record queued: it reads the room afresh,
// in which the others will have had its users leave.
func (p *publisher) publish(msg *nats.Msg, recs []room.Record) {
	first := time.Now()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		try := time.Now()
		ctx, cancel := context.WithTimeout(p.e.ctx, publishTimeout)
		_, err := p.e.js.PublishMsg(ctx, msg)
		cancel()
		if err == nil {
			p.published.Add(int64(len(recs)))
			if wait > 50*time.Millisecond {
				p.e.log.Info("records published after a retry", slog.Int("records", len(recs)))
			}
			return
		}
		if why := p.refusal(err, msg.Subject, try); why != nil {
			p.e.log.Warn("records refused by the stream", slog.Int("records", len(recs)), slog.Any("err", err))
			for _, rec := range recs {
				p.e.room.Refuse(rec, why)
			}
			return
		}
		if wait == 50*time.Millisecond {
			p.e.log.Warn("publish failed; publishing again", slog.Int("records", len(recs)), slog.Any("err", err))
		}
		if time.Since(first) > giveUpAfter {
			p.giveUp(len(recs))
			return
		}
		select {
		case <-time.After(wait):
			p.retries.Add(1)
		case <-p.e.stop:
			return
		}
	}
}

// refusal returns the error for the members whose records a message on
// subject holds, if err, the failure of a try that began at try, means
// that the stream refuses it for good; nil if a try may yet succeed.
// Refused for good is a message the stream answered as a bad request (too
// large, say), which it answers alike if it comes again, or one that NATS
// does not let this server publish on its subject: that NATS says apart,
// and the try then fails for want of an answer.
func (p *publisher) refusal(err error, subject string, try time.Time) *ircish.Error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 400 {
		return ircish.NewError(ircish.CodeLineTooLong, "the cluster's stream refused this: "+err.Error())
	}
	if d := p.e.denied.Load(); d != nil && d.subject == subject && !d.at.Before(try) {
		return ircish.NewError(ircish.CodeRefused, "the cluster's NATS does not let this server publish on "+subject+": this was dropped")
	}
	return nil
}

// A denial is NATS saying that this server may not publish on subject.
type denial struct {
	subject string
	at      time.Time
}

// publishDenied returns the subject of a permissions violation for
// publish that err reports, if it is one.
func publishDenied(err error) (subject string, ok bool) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return "", false
	}
	m := deniedRe.FindStringSubmatch(err.Error())
	if m == nil {
		return "", false
	}
	return m[1], true
}

var deniedRe = regexp.MustCompile(`(?i)publish to "([^"]+)"`)

// giveUp drops the records queued, n more being on their way, and has the
// room read afresh.
func (p *publisher) giveUp(n int) {
	p.mu.Lock()
	n += len(p.queue)
	p.queue = nil
	p.letIn()
	p.mu.Unlock()
	p.e.log.Error("records dropped: the stream took none of them", slog.Int("records", n), slog.Duration("for", giveUpAfter))
	p.e.streamChanged("records dropped")
}

// One try waits publishTimeout for the stream's answer. A message not
// taken after stuckAfter means the stream takes no records from this
// server: NATS moves a stream to another node in 2 to 12 s (measured with
// cluster_nats_node_loss.txtar), within maxPause.
const (
	publishTimeout = 2 * time.Second
	stuckAfter     = maxPause
	giveUpAfter    = 30 * time.Second
)

// stuck reports whether a message has waited stuckAfter for the stream.
func (p *publisher) stuck() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flying > 0 && time.Since(p.since) > stuckAfter
}

// flush waits until every record queued is published, or ctx ends; it
// returns how many are not.
func (p *publisher) flush(ctx context.Context) int {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		left := p.left()
		if left == 0 {
			return 0
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return left
		}
	}
}

// left returns how many records are queued or on their way.
func (p *publisher) left() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue) + p.flying
}
