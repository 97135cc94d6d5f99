package servercmd

import (
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
	b, err := os.ReadFile(path)
	if len(b) != flushAtBytes {
		t.Fatalf("the log holds %d bytes (%v) right after %d bytes of records; want all of them", len(b), err, flushAtBytes)
	}
}

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
