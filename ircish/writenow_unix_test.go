//go:build unix

package ircish

import (
	"bufio"
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
	o.mu.Lock()
	writing, size := o.writing, o.size
	o.mu.Unlock()
	if writing || size != 0 {
		t.Fatalf("after flush: writing %v, %d bytes queued; want no writer and nothing queued", writing, size)
	}
	peer.SetReadDeadline(time.Now().Add(waitTimeout))
	r := bufio.NewReader(peer)
	for _, want := range []string{"JOINED a\r\n", "MSG a hi\r\n"} {
		if line, err := r.ReadString('\n'); err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
}
