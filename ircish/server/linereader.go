package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"time"
)

var (
	// errLineTooLong reports a line longer than the limit. The reader has
	// dropped it, or goes on dropping it up to its end.
	errLineTooLong = errors.New("ircish: line too long")
	// errNoLineEnd reports an over-long line that goes on past maxDiscard.
	errNoLineEnd = errors.New("ircish: line without end")
	// errLineTimeout reports a line begun but not ended in time.
	errLineTimeout = errors.New("ircish: line not ended in time")
	// errDeadline reports that the deadline set with setDeadline passed.
	errDeadline = errors.New("ircish: deadline passed")
)

// maxDiscard bounds the bytes of one over-long line the reader drops
// before it gives up on the connection.
const maxDiscard = 8 << 20

// A lineReader frames a connection's bytes into lines. It knows nothing of
// the protocol. Its buffer is small and grows to the line limit only while
// a long line is being read; while nothing is buffered, a connection whose
// socket it can read directly holds no buffer at all. It is used by one
// goroutine at a time.
type lineReader struct {
	conn       net.Conn
	raw        syscall.RawConn // conn's socket, read while idle (see readIdle); nil if none
	max        int             // longest line, without its terminator
	timeout    time.Duration   // for a begun line to end
	buf        []byte          // buf[r:w] is read but not yet returned
	r, w       int
	discarded  int     // bytes dropped of the current over-long line; -1: none
	deadline   instant // set by setDeadline
	lineStart  instant // when the reader began to wait for the end of a line
	readByTime instant // the read deadline set on conn
}

// take returns the bytes read but not yet returned as lines, and forgets
// them: the connection goes to another reader.
func (r *lineReader) take() []byte {
	b := append([]byte(nil), r.buf[r.r:r.w]...)
	r.r, r.w = 0, 0
	return b
}

// An instant is a time in Unix nanoseconds, 0 for none: a third of a
// time.Time, of which every idle connection holds three.
type instant int64

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i))
}

func newLineReader(conn net.Conn, max int, timeout time.Duration) lineReader {
	return lineReader{conn: conn, raw: rawConn(conn), max: max, timeout: timeout, discarded: -1}
}

const minReadBuf = 512

// readLine returns the next line without its LF or CRLF; the slice is valid
// until the next call. A line longer than max yields errLineTooLong as soon
// as it is known to be too long; the rest of it, up to its LF, is dropped.
func (l *lineReader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
			line := bytes.TrimSuffix(l.buf[l.r:l.r+i], []byte("\r"))
			l.r += i + 1
			l.lineStart = 0
			if l.discarded >= 0 {
				l.discarded = -1
				continue
			}
			if len(line) > l.max {
				return nil, errLineTooLong
			}
			return line, nil
		}
		n := l.w - l.r
		if l.discarded >= 0 {
			l.discarded += n
			l.r, l.w = 0, 0
			if l.discarded > maxDiscard {
				return nil, errNoLineEnd
			}
		} else if n > l.max+1 || n == l.max+1 && l.buf[l.w-1] != '\r' {
			l.discarded = n
			l.r, l.w = 0, 0
			return nil, errLineTooLong
		}
		if err := l.fill(); err != nil {
			return nil, err
		}
	}
}

// buffered reports whether bytes are read but not yet returned.
func (l *lineReader) buffered() bool { return l.r < l.w }

// setDeadline makes reads fail with errDeadline after t; zero: never.
func (l *lineReader) setDeadline(t time.Time) { l.deadline = instantOf(t) }

// fill reads more bytes, after making room for them.
func (l *lineReader) fill() error {
	if l.r == l.w && l.discarded < 0 {
		l.r, l.w = 0, 0
		if len(l.buf) > minReadBuf { // a long line is over: give its memory back
			l.buf = nil
		}
	} else if l.lineStart == 0 {
		l.lineStart = instantOf(time.Now())
	}
	idle := l.r == l.w && l.discarded < 0 && l.raw != nil
	if idle {
		l.releaseBuf()
	} else if l.buf == nil {
		l.buf = make([]byte, minReadBuf)
	}
	if l.r > 0 {
		l.w = copy(l.buf, l.buf[l.r:l.w])
		l.r = 0
	}
	if !idle && l.w == len(l.buf) {
		l.buf = append(l.buf, make([]byte, len(l.buf))...)
	}
	lineBy := l.deadline
	if lineEnd := l.lineStart + instant(l.timeout); l.lineStart != 0 && (lineBy == 0 || lineEnd < lineBy) {
		lineBy = lineEnd
	}
	if lineBy != l.readByTime {
		l.conn.SetReadDeadline(lineBy.time())
		l.readByTime = lineBy
	}
	var n int
	var err error
	if idle {
		n, err = l.readIdle(l.raw)
	} else {
		n, err = l.conn.Read(l.buf[l.w:])
	}
	l.w += n
	if n > 0 {
		return nil
	}
	if deadlinePassed(err) {
		if l.deadline != 0 && instantOf(time.Now()) >= l.deadline {
			return errDeadline
		}
		return errLineTimeout
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
