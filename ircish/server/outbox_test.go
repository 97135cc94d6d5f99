package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"ircish/internal/chattest"
	"net"
	"slices"
	"testing"
	"time"
)

// Lines short and long, around the size of the write buffer, arrive whole
// and in order.
func TestOutboxWritesLinesInOrder(t *testing.T) {
	p := newPipeOutbox(t)
	var want []byte
	for i, n := range []int{10, writeBufferSize - 5, 3, writeBufferSize, 2*writeBufferSize + 7, 1, writeBufferSize + 1} {
		line := bytes.Repeat([]byte{'a' + byte(i)}, n)
		p.out.push(line)
		want = append(want, line...)
	}
	p.peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	got := make([]byte, len(want))
	if n, err := io.ReadFull(p.peer, got); err != nil {
		t.Fatalf("read %d of %d bytes: %v", n, len(want), err)
	}
	if i := firstDifference(got, want); i < len(want) {
		t.Fatalf("byte %d is %q, want %q", i, got[i], want[i])
	}
}

type pipeOutbox struct {
	out  *outbox
	peer net.Conn
}

// newPipeOutbox returns an outbox writing to one end of a pipe, and the
// other end.
func newPipeOutbox(t *testing.T) pipeOutbox {
	mine, peer := net.Pipe()
	t.Cleanup(func() { mine.Close(); peer.Close() })
	return pipeOutbox{newOutbox(mine, 1<<20, time.Minute), peer}
}

// flush writes what the socket has room for and leaves the rest to a
// writer: a peer that reads only later still gets everything, in order.
func TestFlushLeavesTheRestToAWriter(t *testing.T) {
	mine, peer := loopbackPair(t)
	o := newOutbox(mine, 64<<20, time.Minute)
	var want []byte
	for i := range 64 { // 16 MiB: more than loopback socket buffers hold
		line := bytes.Repeat([]byte{'a' + byte(i%26)}, 256<<10)
		o.hand(line)
		want = append(want, line...)
	}
	o.flush()
	if writing, _ := writerState(o); !writing {
		t.Fatal("after flushing 16 MiB to a peer that does not read yet: no writer")
	}
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	got := make([]byte, len(want))
	if n, err := io.ReadFull(peer, got); err != nil {
		t.Fatalf("read %d of %d bytes: %v", n, len(want), err)
	}
	if i := firstDifference(got, want); i < len(want) {
		t.Fatalf("byte %d is %q, want %q", i, got[i], want[i])
	}
}

// An outbox whose socket is out of reach, as TLS's is, flushes with a
// writer.
func TestFlushWithoutSocket(t *testing.T) {
	p := newPipeOutbox(t)
	p.out.hand([]byte("MSG a hi\r\n"))
	p.out.flush()
	p.peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	if line, err := bufio.NewReader(p.peer).ReadString('\n'); err != nil || line != "MSG a hi\r\n" {
		t.Fatalf("read %q, %v; want the line handed", line, err)
	}
}

func TestCut(t *testing.T) {
	lines := func(s ...string) [][]byte {
		var l [][]byte
		for _, x := range s {
			l = append(l, []byte(x))
		}
		return l
	}
	for _, c := range []struct {
		n    int
		want [][]byte
	}{
		{0, lines("ab", "cde", "f")},
		{1, lines("b", "cde", "f")},
		{2, lines("cde", "f")},
		{4, lines("e", "f")},
		{5, lines("f")},
		{6, lines()},
	} {
		b := &batch{lines("ab", "cde", "f")}
		b.cut(c.n)
		if fmt.Sprintf("%q", b.lines) != fmt.Sprintf("%q", c.want) {
			t.Errorf("cut(%d) of ab cde f = %q, want %q", c.n, b.lines, c.want)
		}
		if tail := b.lines[len(b.lines):3]; slices.ContainsFunc(tail, func(l []byte) bool { return l != nil }) {
			t.Errorf("cut(%d) of ab cde f left lines behind: %q", c.n, tail)
		}
	}
}

// A line pushed after one handed but not yet flushed comes after it, and
// the flush that follows has nothing left to do.
func TestPushAfterHandKeepsOrder(t *testing.T) {
	p := newPipeOutbox(t)
	p.out.hand([]byte("MSG a hi\r\n"))
	p.out.push([]byte("PONG\r\n"))
	p.out.flush()
	p.peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	r := bufio.NewReader(p.peer)
	for _, want := range []string{"MSG a hi\r\n", "PONG\r\n"} {
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
}

// flushAll writes to every outbox, however many chunks they make.
func TestFlushAllWritesEveryOutbox(t *testing.T) {
	outs := make([]*outbox, 2*flushChunk+1)
	peers := make([]net.Conn, len(outs))
	for i := range outs {
		p := newPipeOutbox(t)
		outs[i], peers[i] = p.out, p.peer
		p.out.hand([]byte("MSG a hi\r\n"))
	}
	go flushAll(outs, nil)
	for i, peer := range peers {
		peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
		if line, err := bufio.NewReader(peer).ReadString('\n'); err != nil || line != "MSG a hi\r\n" {
			t.Fatalf("outbox %d of %d: read %q, %v; want the line handed", i, len(outs), line, err)
		}
	}
}

// writerState returns whether o is writing, and the memory it holds.
func writerState(o *outbox) (writing bool, held int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writing, o.held()
}

// A backlog of tiny lines counts each line's place in the queue, not only
// its bytes: it holds about the memory the limit says.
func TestSendQueueCountsEachLine(t *testing.T) {
	const limit = 1000
	o := newOutbox(discardConn{}, limit, time.Minute)
	o.mu.Lock()
	o.writing = true // no writer: everything stays queued
	o.mu.Unlock()
	lines := 0
	for ; o.err() == "" && lines < limit; lines++ {
		o.push([]byte("\r\n"))
	}
	if want := limit/(2+int(lineSlot)) + 1; lines != want {
		t.Errorf("a queue of %d bytes took %d lines of 2 bytes, want %d", limit, lines-1, want-1)
	}
}

// Replies do not count against the limit: a long answer does not drop the
// client who asked, nor do room lines that follow it.
func TestRepliesAreNotLimited(t *testing.T) {
	const limit = 1000
	o := newOutbox(discardConn{}, limit, time.Minute)
	o.mu.Lock()
	o.writing = true
	o.mu.Unlock()
	o.pushReply(bytes.Repeat([]byte("x"), 10*limit))
	if reason := o.err(); reason != "" {
		t.Fatalf("a reply of ten times the limit failed the outbox: %s", reason)
	}
	room := bytes.Repeat([]byte("y"), limit/2)
	o.push(room)
	if reason := o.err(); reason != "" {
		t.Fatalf("half the limit of room lines after a long reply failed the outbox: %s", reason)
	}
	o.push(room)
	if reason := o.err(); reason != reasonSendQueue {
		t.Fatalf("room lines past the limit: outbox failure %q, want %q", reason, reasonSendQueue)
	}
}

// An outbox that fails does not wait for its connection to close: its
// caller may hold the room's lock.
func TestFailDoesNotWaitForClose(t *testing.T) {
	conn := closeBlocks{discardConn{}, make(chan struct{})}
	t.Cleanup(func() { close(conn.release) })
	o := newOutbox(conn, 10, time.Minute)
	handed := make(chan struct{})
	go func() {
		o.hand(make([]byte, 100))
		close(handed)
	}()
	select {
	case <-handed:
	case <-time.After(chattest.WaitTimeout):
		t.Fatalf("hand of a line over the limit still waits after %v: it closes the connection itself", chattest.WaitTimeout)
	}
	if reason := o.err(); reason != reasonSendQueue {
		t.Errorf("outbox failure %q, want %q", reason, reasonSendQueue)
	}
}

// A closeBlocks is a connection whose Close waits until release is closed.
type closeBlocks struct {
	discardConn
	release chan struct{}
}

func (c closeBlocks) Close() error {
	<-c.release
	return nil
}

// closeAfterFlush while the write token is held is left to the holder:
// the peer reads every line queued, then the end of the connection.
func TestCloseAfterFlushWhileWriting(t *testing.T) {
	mine, peer := loopbackPair(t)
	o := newOutbox(mine, 1<<20, time.Minute)
	o.hand([]byte("MSG a one\r\n"))
	o.mu.Lock()
	o.writing = true // as a flush under way
	o.mu.Unlock()
	o.push([]byte("MSG a two\r\n"))
	o.closeAfterFlush()
	o.mu.Lock()
	o.writing = false // the flush found nothing to write
	o.mu.Unlock()
	o.flush() // its hand-over: lines remain and closing is asked
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	got, err := io.ReadAll(peer)
	if want := "MSG a one\r\nMSG a two\r\n"; string(got) != want || err != nil {
		t.Fatalf("peer read %q, %v; want %q then EOF", got, err, want)
	}
}

// Once everything is written, partial writes included, nothing is counted
// as held, replies or not.
func TestAccountingAfterWrites(t *testing.T) {
	mine, peer := loopbackPair(t)
	o := newOutbox(mine, 1<<20, time.Minute)
	want := 0
	for i := range 6 {
		line := bytes.Repeat([]byte{'a' + byte(i)}, 300<<10) // more than a socket takes at once
		if i%2 == 0 {
			o.pushReply(line)
		} else {
			o.hand(line)
			o.flush()
		}
		want += len(line)
	}
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	if n, err := io.CopyN(io.Discard, peer, int64(want)); err != nil {
		t.Fatalf("read %d of %d bytes: %v", n, want, err)
	}
	chattest.WaitFor(t, "the outbox to count everything written", func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.held() == 0 && o.replyBytes == 0 && o.replies == nil
	})
}
