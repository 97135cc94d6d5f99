package servercmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLogFileWritesWithinItsDelay(t *testing.T) {
	const delay = 50 * time.Millisecond
	path := filepath.Join(t.TempDir(), "server.log")
	l, err := openLog(path, delay)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("one\n"))
	l.Write([]byte("two\n"))
	deadline := time.Now().Add(10 * delay)
	for {
		b, _ := os.ReadFile(path)
		if string(b) == "one\ntwo\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the log holds %q, want %q", 10*delay, b, "one\ntwo\n")
		}
		time.Sleep(delay / 10)
	}
}

func TestLogFileWritesAtOnceWhenMuchIsPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	l, err := openLog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	record := strings.Repeat("x", 1023) + "\n"
	for range flushAtBytes / len(record) {
		l.Write([]byte(record))
	}
	deadline := time.Now().Add(10 * time.Second) // far less than the hour's delay
	for {
		b, err := os.ReadFile(path)
		if len(b) == flushAtBytes {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d bytes (%v) 10 s after %d bytes of records; want all of them", len(b), err, flushAtBytes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A disk that does not take the log's writes stalls no one who logs: the
// records beyond what may wait are dropped, and the log says how many once
// the disk is back.
func TestLogFileDoesNotWaitForASlowDisk(t *testing.T) {
	disk := &stuckDisk{release: make(chan struct{})}
	l := newLogFile("server.log", disk, 0)
	record := []byte(strings.Repeat("x", 1023) + "\n")
	wrote := make(chan struct{})
	go func() {
		for range 2 * maxPending / len(record) { // twice what may wait
			l.Write(record)
		}
		close(wrote)
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("Write still waits for a disk that takes no writes after 10 s")
	}
	close(disk.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := disk.buf.String()
	if !strings.Contains(got, `level=WARN msg="log records dropped" count=`) {
		t.Errorf("the log does not say that records were dropped; it ends %q", got[max(0, len(got)-200):])
	}
	// What may wait, and what the writer took before the disk stuck.
	if n := len(got); n < maxPending || n >= 2*maxPending {
		t.Errorf("the log holds %d of the %d bytes written, want at least the %d that may wait, and less than all", n, 2*maxPending, maxPending)
	}
}

// A stuckDisk takes no write until release is closed.
type stuckDisk struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (d *stuckDisk) Write(p []byte) (int, error) {
	<-d.release
	return d.buf.Write(p)
}

func (d *stuckDisk) Close() error { return nil }

func TestLogFileCloseAndReopenWritePending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "server.log")
	l, err := openLog(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("before rotation\n"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("after rotation\n"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{path + ".1": "before rotation\n", path: "after rotation\n"} {
		if b, err := os.ReadFile(file); string(b) != want {
			t.Errorf("%s holds %q (%v), want %q", filepath.Base(file), b, err, want)
		}
	}
}

func TestLogFileHoldsRecordsUntilTheirDelay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	l, err := openLog(path, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("held\n"))
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("right after Write, with an hour's delay, the log holds %q; want nothing yet", b)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "held\n" {
		t.Errorf("after Close the log holds %q, want %q", b, "held\n")
	}
}
