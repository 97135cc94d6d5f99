package servercmd

import (
	"os"
	"sync"
	"time"
)

// A logFile is the server log, appended to. Records may wait up to a delay
// to be written together: a busy server would otherwise spend a tenth of
// its time in write calls for its log. Reopen starts a new file at the same
// path, for log rotation: no record is lost or split across it.
type logFile struct {
	path  string
	delay time.Duration // longest a record waits; 0: none

	mu        sync.Mutex
	f         *os.File
	pending   []byte // records not yet written
	scheduled bool   // a flush is due within delay
}

// flushAtBytes is how many pending bytes are written without waiting.
const flushAtBytes = 64 << 10

func openLog(path string, delay time.Duration) (*logFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, delay: delay, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// Write queues one record; slog's handlers write each in one call. An error
// writing the file is not reported: slog would drop it anyway.
func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, p...)
	switch {
	case l.delay == 0 || len(l.pending) >= flushAtBytes:
		l.flushLocked()
	case !l.scheduled:
		l.scheduled = true
		time.AfterFunc(l.delay, l.flush)
	}
	return len(p), nil
}

func (l *logFile) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.scheduled = false
	l.flushLocked()
}

// flushLocked writes the pending records. The caller holds l.mu.
func (l *logFile) flushLocked() error {
	if len(l.pending) == 0 {
		return nil
	}
	_, err := l.f.Write(l.pending)
	l.pending = l.pending[:0]
	return err
}

// Reopen closes the file and opens the path anew. If that fails, the old
// file stays in use.
func (l *logFile) Reopen() error {
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	l.f.Close()
	l.f = f
	return nil
}

// Close writes the pending records and closes the file.
func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.flushLocked()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
