package servercmd

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// A logFile is the server log, appended to. Records are written behind:
// Write only queues a record, and a goroutine of the log's own writes the
// queue within delay, or at once when 64 KiB wait, so that a busy server
// does not spend a tenth of its time in write calls for its log, and a slow
// disk never stalls a connection that logs. At most maxPending bytes wait;
// records beyond that are dropped, and once the disk has caught up the log
// says how many, in a "log records dropped" record. Reopen starts a new
// file at the same path, for log rotation: no record is lost or split
// across it.
type logFile struct {
	path  string
	delay time.Duration // longest a record waits; 0: none
	wake  chan struct{} // tells the writer to write now
	done  chan struct{} // closed by Close
	ended chan struct{} // closed by the writer as it ends

	mu        sync.Mutex // guards what follows; never held during I/O
	pending   []byte     // records not yet written
	dropped   int        // records dropped since the last write
	scheduled bool       // a write is due within delay

	fileMu sync.Mutex     // held while writing to f, and to change it
	f      io.WriteCloser // *os.File but in tests
	spare  []byte         // the buffer written last, for pending to reuse
}

const (
	// flushAtBytes is how many pending bytes are written without waiting.
	flushAtBytes = 64 << 10
	// maxPending is how many bytes may wait for a slow disk.
	maxPending = 4 << 20
)

func openLog(path string, delay time.Duration) (*logFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return newLogFile(path, f, delay), nil
}

func newLogFile(path string, f io.WriteCloser, delay time.Duration) *logFile {
	l := &logFile{path: path, delay: delay, f: f, wake: make(chan struct{}, 1), done: make(chan struct{}), ended: make(chan struct{})}
	go l.writer()
	return l
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// Write queues one record, and never waits for the disk; slog's handlers
// write each record in one call. An error writing the file is not
// reported: slog would drop it anyway.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending)+len(p) > maxPending {
		l.dropped++
		return len(p), nil
	}
	l.pending = append(l.pending, p...)
	switch {
	case l.delay == 0 || len(l.pending) >= flushAtBytes:
		l.kick()
	case !l.scheduled:
		l.scheduled = true
		time.AfterFunc(l.delay, l.kick)
	}
	return len(p), nil
}

// kick tells the writer to write what is pending.
func (l *logFile) kick() {
	select {
	case l.wake <- struct{}{}:
	default: // it has been told already
	}
}

// writer is the log's goroutine: it writes what is pending when kicked,
// until Close.
func (l *logFile) writer() {
	defer close(l.ended)
	for {
		select {
		case <-l.wake:
			l.fileMu.Lock()
			l.flushLocked()
			l.fileMu.Unlock()
		case <-l.done:
			return
		}
	}
}

// flushLocked writes the pending records, and a record of those dropped if
// any were. The caller holds l.fileMu.
func (l *logFile) flushLocked() error {
	l.mu.Lock()
	b, dropped := l.pending, l.dropped
	l.pending, l.dropped, l.scheduled = l.spare[:0], 0, false
	l.mu.Unlock()
	if dropped > 0 {
		var rec bytes.Buffer
		slog.New(slog.NewTextHandler(&rec, nil)).Warn("log records dropped", "count", dropped)
		b = append(b, rec.Bytes()...)
	}
	l.spare = b
	if cap(b) > 16*flushAtBytes {
		l.spare = nil // a rare big batch goes back to the heap once written
	}
	if len(b) == 0 {
		return nil
	}
	_, err := l.f.Write(b)
	return err
}

// Reopen closes the file and opens the path anew, after writing what is
// pending to the old one. If that fails, the old file stays in use.
func (l *logFile) Reopen() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	l.flushLocked()
	l.f.Close()
	l.f = f
	return nil
}

// Close writes the pending records, ends the writer and closes the file.
func (l *logFile) Close() error {
	close(l.done)
	<-l.ended // no write after the file is closed
	l.fileMu.Lock()
	defer l.fileMu.Unlock()
	err := l.flushLocked()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
