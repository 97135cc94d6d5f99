package ircish

import (
	"bytes"
	"io"
	"net"
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
	if !bytes.Equal(got, want) {
		i := 0
		for got[i] == want[i] {
			i++
		}
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
