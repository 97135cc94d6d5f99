package ircish

import (
	"bytes"
	"errors"
	"io"
)

// errLineTooLong reports a line longer than the limit. The reader has
// discarded it, or goes on discarding it up to its end.
var errLineTooLong = errors.New("ircish: line too long")

// A lineReader frames a stream into lines. It knows nothing of the protocol.
// Its buffer starts small and grows to the line limit only while a long line
// is being read, so an idle connection holds little memory.
type lineReader struct {
	rd         io.Reader
	max        int    // longest line, without its terminator
	buf        []byte // buf[r:w] is read but not yet returned
	r, w       int
	discarding bool // inside a line that is too long
}

const minReadBuf = 512

// readLine returns the next line without its LF or CRLF; the slice is valid
// until the next call. A line longer than max yields errLineTooLong as soon
// as it is known to be too long; the rest of it, up to its LF, is skipped.
func (l *lineReader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
			line := l.buf[l.r : l.r+i]
			l.r += i + 1
			if l.discarding {
				l.discarding = false
				continue
			}
			return bytes.TrimSuffix(line, []byte("\r")), nil
		}
		if l.discarding {
			l.r, l.w = 0, 0
		} else if l.w-l.r > l.max+1 || l.w-l.r == l.max+1 && l.buf[l.w-1] != '\r' {
			l.discarding = true
			l.r, l.w = 0, 0
			return nil, errLineTooLong
		}
		if err := l.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, after making room for them.
func (l *lineReader) fill() error {
	if l.r == l.w {
		l.r, l.w = 0, 0
		if len(l.buf) > minReadBuf { // a long line is over: give its memory back
			l.buf = nil
		}
	}
	if l.buf == nil {
		l.buf = make([]byte, minReadBuf)
	}
	if l.r > 0 {
		l.w = copy(l.buf, l.buf[l.r:l.w])
		l.r = 0
	}
	if l.w == len(l.buf) {
		l.buf = append(l.buf, make([]byte, min(len(l.buf), l.max+2))...)
	}
	n, err := l.rd.Read(l.buf[l.w:])
	l.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}
