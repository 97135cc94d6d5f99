//go:build unix

package server

import (
	"bufio"
	"ircish/internal/chattest"
	"testing"
	"time"
)

// Lines the socket has room for are written by flush itself: no writer
// goroutine is started.
func TestFlushWritesWithoutAWriter(t *testing.T) {
	mine, peer := loopbackPair(t)
	o := newOutbox(mine, 1<<20, time.Minute)
	o.hand([]byte("JOINED a\r\n"))
	o.hand([]byte("MSG a hi\r\n"))
	o.flush()
	if writing, size := writerState(o); writing || size != 0 {
		t.Fatalf("after flush: writing %v, %d bytes queued; want no writer and nothing queued", writing, size)
	}
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	r := bufio.NewReader(peer)
	for _, want := range []string{"JOINED a\r\n", "MSG a hi\r\n"} {
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
}

// A writer that is done leaves no write deadline behind, which would stop
// flush from writing once it passed.
func TestFlushWritesAfterTheWriteTimeout(t *testing.T) {
	mine, peer := loopbackPair(t)
	o := newOutbox(mine, 1<<20, time.Millisecond)
	o.push([]byte("JOINED a\r\n"))
	peer.SetReadDeadline(time.Now().Add(chattest.WaitTimeout))
	r := bufio.NewReader(peer)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	chattest.WaitFor(t, "the writer to end", func() bool {
		writing, _ := writerState(o)
		return !writing
	})
	time.Sleep(10 * o.timeout) // past the last write's deadline
	o.hand([]byte("MSG a hi\r\n"))
	o.flush()
	if writing, size := writerState(o); writing || size != 0 {
		t.Fatalf("flush after the write timeout: writing %v, %d bytes queued; want it written by flush", writing, size)
	}
}
