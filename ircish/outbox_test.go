package ircish

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
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
	p.peer.SetReadDeadline(time.Now().Add(waitTimeout))
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
	peer.SetReadDeadline(time.Now().Add(waitTimeout))
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
	p.peer.SetReadDeadline(time.Now().Add(waitTimeout))
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
	p.peer.SetReadDeadline(time.Now().Add(waitTimeout))
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
	go flushAll(outs)
	for i, peer := range peers {
		peer.SetReadDeadline(time.Now().Add(waitTimeout))
		if line, err := bufio.NewReader(peer).ReadString('\n'); err != nil || line != "MSG a hi\r\n" {
			t.Fatalf("outbox %d of %d: read %q, %v; want the line handed", i, len(outs), line, err)
		}
	}
}

// writerState returns whether o is writing, and the bytes it holds.
func writerState(o *outbox) (writing bool, size int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writing, o.size
}
