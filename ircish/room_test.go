package ircish

import (
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
