package ircish

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"
)

func TestPresenceDelayGrowsWithTheRoom(t *testing.T) {
	for _, c := range []struct {
		members int
		want    time.Duration
	}{
		{0, 50 * time.Millisecond},
		{4999, 50 * time.Millisecond},
		{5000, 100 * time.Millisecond},
		{10000, 150 * time.Millisecond},
		{1000000, time.Second},
	} {
		if got := presenceDelay(c.members); got != c.want {
			t.Errorf("presenceDelay(%d) = %v, want %v", c.members, got, c.want)
		}
	}
}

// A line added to a kicker with a shorter delay than the one it waits for
// already is written within its own delay.
func TestKickerKicksByTheShortestDelay(t *testing.T) {
	var mu sync.Mutex
	k := kicker{mu: &mu}
	slow, fast := newPipeOutbox(t), newPipeOutbox(t)
	mu.Lock()
	for _, c := range []struct {
		o     *outbox
		delay time.Duration
	}{{slow.out, time.Hour}, {fast.out, 10 * time.Millisecond}} {
		if !c.o.push([]byte("JOINED x\r\n"), c.delay) {
			t.Fatalf("push with delay %v: not to be added to a kicker", c.delay)
		}
		k.add(c.o, c.delay)
	}
	mu.Unlock()
	fast.peer.SetReadDeadline(time.Now().Add(waitTimeout))
	if line, err := bufio.NewReader(fast.peer).ReadString('\n'); err != nil {
		t.Fatalf("waiting %v for a line pushed with a 10ms delay, after one with an hour's: %v", waitTimeout, err)
	} else if line != "JOINED x\r\n" {
		t.Fatalf("got %q, want the line pushed", line)
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
