package server

import (
	"slices"
	"testing"
)

// A write batch is counted in the first bucket whose bound holds its
// bytes, or in the last, past every bound.
func TestTallyBuckets(t *testing.T) {
	tests := []struct{ bytes, bucket int }{
		{1, 0},
		{64, 0},
		{65, 1},
		{256, 1},
		{257, 2},
		{16 << 10, 4},
		{1 << 20, 7},
		{1<<20 + 1, 8},
	}
	for _, tt := range tests {
		var tl tally
		tl.wrote(tt.bytes)
		if got := slices.Index(tl.batches[:], 1); got != tt.bucket {
			t.Errorf("a write batch of %d bytes went to bucket %d, want %d", tt.bytes, got, tt.bucket)
		}
	}
}

// The meter adds up tallies, and gives the buckets as Prometheus has them:
// each counts the batches of the ones before it too.
func TestMeterAddsTallies(t *testing.T) {
	m := newMeter()
	var a, b tally
	a.wrote(10)
	a.wrote(0) // nothing written: no batch
	b.wrote(300)
	b.wrote(2 << 20)
	m.add(&a)
	m.add(&b)
	count, buckets := m.batchSizes()
	if want := int64(10 + 300 + 2<<20); count != 3 || m.bytesOut.Load() != want {
		t.Errorf("counted %d batches of %d bytes; want 3 of %d", count, m.bytesOut.Load(), want)
	}
	want := []int64{1, 1, 2, 2, 2, 2, 2, 2} // of at most 64, 256, 1 Ki ... 1 Mi bytes
	for i, bk := range buckets {
		if bk.Max != batchBounds[i] || bk.Count != want[i] {
			t.Errorf("bucket %d: %d batches of at most %d bytes, want %d of at most %d", i, bk.Count, bk.Max, want[i], batchBounds[i])
		}
	}
}
