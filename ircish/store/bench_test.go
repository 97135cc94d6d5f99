package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ircish/ircish/room"
)

// BenchmarkStoreAdd measures the write path: messages of 64 bytes added
// by one goroutine, written behind in batches, with retention running
// (Keep 10,000), until Close has written them all.
func BenchmarkStoreAdd(b *testing.B) {
	path := filepath.Join(b.TempDir(), "ircish.db")
	s, snap, err := Open(path, Options{Keep: 10000, Flush: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("x", 64)
	at := time.Now()
	b.ResetTimer()
	for i := range b.N {
		s.Add(room.Entry{Seq: snap.Gone + 1 + int64(i), At: at, From: "ann", Text: text})
	}
	if err := s.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if s.dropped > 0 {
		b.Fatalf("%d messages dropped", s.dropped)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
