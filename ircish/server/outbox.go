package server

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// An outbox is a client's queue of outgoing lines. Lines are shared: the
// room hands every member a slice of the same bytes (see hub.pending). A
// writer goroutine exists only while lines are queued; it takes everything
// queued and writes it 16 KiB at a time, so an idle client costs no
// goroutine and a busy one few system calls. The room's hand-outs need none
// where the socket has room for them (see flush).
//
// push, pushReply, hand, flush and closeAfterFlush are safe to call from
// any goroutine and never wait for the connection: flush writes only what
// the socket takes at once, and the writer goroutine does the waiting.
//
// # Invariants
//
// The write token is writing: whoever set it, under mu, is the one
// goroutine that may write to conn, until it clears it, under mu. Holders
// are flush (for its one non-blocking write, see writeNow) and the writer
// goroutine (write), which push, pushReply, flush or closeAfterFlush start
// with startWriter when no one holds the token, or flush hands it to.
//
//  1. One writer at a time: conn is written only by the token's holder, so
//     lines go out whole and in queue order (TestFlushAllWritesEveryOutbox,
//     TestPushAfterHandKeepsOrder).
//  2. No line is stranded: a holder re-checks, under mu and before it
//     releases the token, that the queue is empty and that no half-close is
//     asked; if either is not so, it keeps writing (write's loop) or hands
//     the token to a writer (flush). So a line queued, or closeAfterFlush
//     called, while the token is held is taken care of by the holder
//     (TestFlushLeavesTheRestToAWriter, TestCloseAfterFlushWhileWriting).
//  3. No stale deadline: the writer clears the write deadline before it
//     releases the token, because a deadline left to pass would fail every
//     later non-blocking write of flush (TestFlushWritesAfterTheWriteTimeout).
//  4. Only the token's holder advances sent, by what it wrote; queued-sent
//     is what the outbox holds, and what waitBelow and the limit count.
//  5. After a failure nothing more is queued (add refuses), the queue is
//     let go, and the holder stops at its next check.
//  6. Nothing holds mu across a write or a close: fail leaves the close to
//     a goroutine, closeAfterFlush half-closes after unlocking, and the
//     room, whose lock may be held while lines are queued, never waits for
//     a socket (TestFailDoesNotWaitForClose).
type outbox struct {
	conn    net.Conn
	raw     syscall.RawConn        // conn's socket, for flush; nil if out of reach (TLS)
	max     int                    // bytes queued at most
	timeout time.Duration          // for one write
	meter   *meter                 // counts what the writer goroutine writes; nil: nothing
	bye     atomic.Pointer[string] // the BYE of a client an operator removed (see sendOff)

	mu      sync.Mutex
	drained chan struct{} // closed when sent grows or the outbox fails; made by waitBelow
	queue   *batch        // lines queued, in order; nil if none
	writing bool          // the write token; see Invariants
	closing bool          // close the connection once lines are written
	failure string        // why the outbox stopped; "" while it works

	stopped chan struct{} // closed when the outbox fails; made on demand

	// queued and sent count the memory of the lines queued and written
	// so far: each line's bytes and its lineSlot, the slot counted once
	// the line is written whole. queued-sent is what the outbox holds.
	queued, sent int64
	// replies are where the replies among them lie, oldest first; a
	// reply that is written is dropped from it. replyBytes is what of
	// them is not written yet.
	replies    []span
	replyBytes int64
}

// lineSlot is what a queued line costs beside its bytes: its place in a
// batch. A backlog of tiny lines is mostly slots.
const lineSlot = int64(unsafe.Sizeof([]byte(nil)))

// A span is where a reply lies in an outbox's count of queued memory.
type span struct{ from, to int64 }

// A batch is a run of lines to write. Batches are pooled, so that a busy
// outbox queues lines without allocating and an idle one holds none.
type batch struct{ lines [][]byte }

var batches = sync.Pool{New: func() any { return &batch{lines: make([][]byte, 0, 8)} }}

// maxPooledBatch is the most lines a batch may have room for and go back
// to the pool: a rare giant backlog's memory goes back to the heap.
const maxPooledBatch = 4096

// putBatch returns b, whose lines are written or dropped, to the pool.
func putBatch(b *batch) {
	if cap(b.lines) <= maxPooledBatch {
		clear(b.lines) // let the lines go
		b.lines = b.lines[:0]
		batches.Put(b)
	}
}

func newOutbox(conn net.Conn, max int, timeout time.Duration) *outbox {
	o := &outbox{conn: conn, max: max, timeout: timeout}
	if sc, ok := conn.(syscall.Conn); ok {
		o.raw, _ = sc.SyscallConn()
	}
	return o
}

// push queues line, which must not be modified afterwards, and starts the
// writer if none runs. If the lines other than replies would outgrow the
// limit, the outbox fails with "send queue exceeded" and closes the
// connection. After a failure or closeAfterFlush, push does nothing.
func (o *outbox) push(line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.add(line, false) && !o.writing {
		o.startWriter(nil)
	}
}

// pushReply queues line as push does, as a reply to the client's own
// command: replies do not count against the limit, so that no answer,
// however long (a LIST of a big room), drops the client who asked. What
// bounds them is the reading pause: the client's next command waits until
// the outbox holds little (see conn.handle).
func (o *outbox) pushReply(line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.add(line, true) && !o.writing {
		o.startWriter(nil)
	}
}

// hand queues line as push does, but leaves it to the caller to call
// flush: a caller handing many outboxes a line each can then write them
// one after the other in its own goroutine.
func (o *outbox) hand(line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.add(line, false)
}

// add queues line and reports whether it did. The caller holds o.mu.
func (o *outbox) add(line []byte, reply bool) bool {
	if o.failure != "" || o.closing {
		return false
	}
	cost := int64(len(line)) + lineSlot
	if reply {
		o.replies = append(o.replies, span{o.queued, o.queued + cost})
		o.replyBytes += cost
	} else if o.held()-o.replyBytes+cost > int64(o.max) {
		o.fail(reasonSendQueue)
		return false
	}
	if o.queue == nil {
		o.queue = batches.Get().(*batch)
	}
	o.queue.lines = append(o.queue.lines, line)
	o.queued += cost
	return true
}

// held returns the memory the outbox holds: lines queued or being
// written. The caller holds o.mu.
func (o *outbox) held() int64 { return o.queued - o.sent }

// wrote counts n more bytes written, and lines more lines written whole.
// The caller holds o.mu.
func (o *outbox) wrote(n, lines int) {
	before := o.sent
	o.sent += int64(n) + int64(lines)*lineSlot
	i := 0
	for ; i < len(o.replies) && o.replies[i].from < o.sent; i++ {
		r := o.replies[i]
		o.replyBytes -= min(r.to, o.sent) - max(r.from, before)
		if r.to > o.sent {
			break // written in part
		}
	}
	switch {
	case i == len(o.replies):
		o.replies = nil // an idle outbox holds no array
	case i > 0:
		o.replies = append(o.replies[:0], o.replies[i:]...)
	}
	o.signalDrained()
}

// signalDrained wakes waitBelow. The caller holds o.mu.
func (o *outbox) signalDrained() {
	if o.drained != nil {
		close(o.drained)
		o.drained = nil
	}
}

// flush writes what is queued, unless a writer runs, without waiting for
// the connection: what its socket buffer has room for, which is mostly
// everything, needs no goroutine. A writer goroutine writes the rest.
// flush returns the bytes it wrote, for its caller to count.
func (o *outbox) flush() (n int) {
	o.mu.Lock()
	b := o.queue
	if o.writing || b == nil || o.failure != "" {
		o.mu.Unlock()
		return 0
	}
	o.queue = nil
	o.writing = true
	o.mu.Unlock()

	if o.raw != nil {
		n = writeNow(o.raw, b.lines)
	}
	whole := b.cut(n)

	o.mu.Lock()
	defer o.mu.Unlock()
	o.wrote(n, whole)
	if len(b.lines) > 0 || o.queue != nil || o.closing {
		o.startWriter(b) // it half-closes if closing
		return n
	}
	putBatch(b)
	o.writing = false
	return n
}

// cut drops the first n bytes of b's lines, lets the written lines go, and
// returns how many lines were written whole.
func (b *batch) cut(n int) int {
	i := 0
	for ; i < len(b.lines) && n >= len(b.lines[i]); i++ {
		n -= len(b.lines[i])
	}
	if i < len(b.lines) {
		b.lines[i] = b.lines[i][n:]
	}
	k := copy(b.lines, b.lines[i:])
	clear(b.lines[k:])
	b.lines = b.lines[:k]
	return i
}

// startWriter starts the writer goroutine, to write b (if not nil) and
// then the queue. The caller holds o.mu.
func (o *outbox) startWriter(b *batch) {
	o.writing = true
	go o.write(b)
}

// closeAfterFlush ends the sending side of the connection once everything
// queued is written: the peer reads EOF after the last line.
func (o *outbox) closeAfterFlush() {
	o.mu.Lock()
	o.closing = true
	idle := !o.writing && (o.queue == nil || o.failure != "")
	if !o.writing && !idle {
		o.startWriter(nil) // it half-closes when done
	}
	o.mu.Unlock()
	if idle {
		closeWrite(o.conn)
	}
}

// closeWrite ends the sending side of conn, or closes conn if it cannot be
// half-closed. For TLS that writes an alert: never call it holding a lock.
func closeWrite(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); !ok || cw.CloseWrite() != nil {
		conn.Close()
	}
}

// fail stops the outbox for reason and closes the connection, which ends
// the client's reader too. The caller holds o.mu, and may hold the room's
// lock: closing a socket waits for its reader to let go of it, so the close
// is left to a goroutine of its own.
func (o *outbox) fail(reason string) {
	if o.failure == "" {
		o.failure = reason
		o.queue = nil
		go closeNow(o.conn)
		if o.stopped != nil {
			close(o.stopped)
		}
		o.signalDrained()
	}
}

// drop fails the outbox for reason. It never blocks.
func (o *outbox) drop(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fail(reason)
}

// sendOff has the client told BYE bye and closed: an operator removed it.
// It ends the client's reading at once. It never blocks.
func (o *outbox) sendOff(bye string) {
	if o.bye.CompareAndSwap(nil, &bye) {
		go closeRead(o.conn)
	}
}

// sentOff returns the BYE of a client an operator removed, or "". It is
// read for every line a client sends: an atomic load, no lock.
func (o *outbox) sentOff() string {
	if bye := o.bye.Load(); bye != nil {
		return *bye
	}
	return ""
}

// failed returns a channel that is closed when the outbox fails.
func (o *outbox) failed() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.stopped == nil {
		o.stopped = make(chan struct{})
		if o.failure != "" {
			close(o.stopped)
		}
	}
	return o.stopped
}

// closeNow closes conn without writing to it: a TLS connection without its
// close_notify alert, which could wait for a peer that does not read.
func closeNow(conn net.Conn) {
	if ws, ok := conn.(*wsConn); ok {
		conn = ws.nc
	}
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	conn.Close()
}

// err returns the reason the outbox failed, or "".
func (o *outbox) err() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.failure
}

// waitBelow blocks while the outbox holds more than n bytes and works. It
// returns the reason the outbox failed, or "".
func (o *outbox) waitBelow(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	for o.held() > int64(n) && o.failure == "" {
		if o.drained == nil {
			o.drained = make(chan struct{})
		}
		drained := o.drained
		o.mu.Unlock()
		<-drained
		o.mu.Lock()
	}
	return o.failure
}

// writeBuffers holds the buffers writers gather short lines in: many short
// lines are cheaper to write as one buffer than as many (writev
// costs the kernel a little per line, and the runtime keeps an FD's largest
// iovec array for good), and an idle client holds no buffer. A writer
// blocked by a peer that does not read holds its buffer until the write
// timeout.
var writeBuffers = sync.Pool{New: func() any { return new([writeBufferSize]byte) }}

const writeBufferSize = 16 << 10

// writeLines writes lines in order, 16 KiB at a time: short lines
// gathered in a buffer, a long one in pieces of its own, uncopied.
func (o *outbox) writeLines(lines [][]byte) error {
	buf := writeBuffers.Get().(*[writeBufferSize]byte)
	defer writeBuffers.Put(buf)
	b := buf[:0]
	for _, line := range lines {
		if len(b) > 0 && len(b)+len(line) > cap(b) {
			if err := o.writeOut(b); err != nil {
				return err
			}
			b = b[:0]
		}
		for len(line) >= cap(b) {
			if err := o.writeOut(line[:cap(b)]); err != nil {
				return err
			}
			line = line[cap(b):]
		}
		b = append(b, line...)
	}
	if len(b) == 0 {
		return nil
	}
	return o.writeOut(b)
}

// writeOut writes b within the write timeout: a client that takes no data
// for that long is dropped.
func (o *outbox) writeOut(b []byte) error {
	o.conn.SetWriteDeadline(time.Now().Add(o.timeout))
	_, err := o.conn.Write(b)
	return err
}

// write is the writer goroutine: it writes b, if not nil, then batches
// from the queue until the queue is empty.
func (o *outbox) write(b *batch) {
	runtime.Gosched() // let the goroutines queueing lines queue more first: bigger batches, fewer writes
	for ; ; b = nil {
		o.mu.Lock()
		if b == nil {
			b, o.queue = o.queue, nil
		}
		if b == nil || o.failure != "" {
			o.writing = false
			o.conn.SetWriteDeadline(time.Time{}) // flush's writes fail once it passes
			halfClose := o.closing && o.failure == ""
			o.mu.Unlock()
			if halfClose {
				closeWrite(o.conn)
			}
			return
		}
		o.mu.Unlock()

		n, lines := 0, len(b.lines)
		for _, line := range b.lines {
			n += len(line)
		}
		err := o.writeLines(b.lines)
		if err == nil {
			o.count(n)
		}
		putBatch(b)

		o.mu.Lock()
		o.wrote(n, lines)
		if err != nil {
			reason := reasonLost
			if deadlinePassed(err) {
				reason = reasonWriteTimeout
			}
			o.fail(reason)
		}
		o.mu.Unlock()
	}
}

// count counts a batch of n bytes that the writer goroutine wrote.
func (o *outbox) count(n int) {
	var t tally
	t.wrote(n)
	o.meter.add(&t)
}

// deadlinePassed reports whether err says a deadline set on the connection
// passed. A connection whose keepalive went unanswered fails with
// ETIMEDOUT, whose Timeout method says true as well: that one is lost.
func deadlinePassed(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
