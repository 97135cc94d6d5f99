//go:build unix

package server

import (
	"io"
	"sync"
	"syscall"
)

// readIdle reads into l.buf, which is nil, from raw, the socket of a
// connection with nothing buffered: it takes a buffer from a pool only
// once the socket has bytes, and puts it back while it waits for them, so
// that an idle connection holds no buffer. It makes the same system calls
// as a Read.
func (l *lineReader) readIdle(raw syscall.RawConn) (int, error) {
	rd := idleReaders.Get().(*idleReader)
	defer idleReaders.Put(rd)
	rd.l, rd.n, rd.err = l, 0, nil
	if err := raw.Read(rd.fn); err != nil { // a deadline, or a closed connection
		return 0, err
	}
	rd.l = nil
	return rd.n, rd.err
}

// An idleReader holds one readIdle's state and the method value passed to
// raw.Read, which is allocated once per idleReader rather than per call.
type idleReader struct {
	l   *lineReader
	n   int
	err error
	fn  func(fd uintptr) bool // rd.read
}

var idleReaders = sync.Pool{New: func() any {
	rd := new(idleReader)
	rd.fn = rd.read
	return rd
}}

// read reads once the socket has bytes; it returns false, to wait for
// them, when it has none yet.
func (rd *idleReader) read(fd uintptr) bool {
	l := rd.l
	if l.buf == nil {
		l.buf = readBufs.Get().(*[minReadBuf]byte)[:]
	}
	for {
		n, err := syscall.Read(int(fd), l.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			readBufs.Put((*[minReadBuf]byte)(l.buf))
			l.buf = nil
			return false
		case n == 0 && err == nil:
			err = io.EOF
		}
		rd.n, rd.err = max(n, 0), err
		return true
	}
}

// readBufs are the buffers of connections that are reading.
var readBufs = sync.Pool{New: func() any { return new([minReadBuf]byte) }}

// rawConn returns the socket of conn for readIdle, or nil if there is
// none to read directly (TLS).
func rawConn(conn any) syscall.RawConn {
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
}

// releaseBuf gives l's buffer back to the pool, once nothing is buffered.
func (l *lineReader) releaseBuf() {
	if l.raw != nil && len(l.buf) == minReadBuf && cap(l.buf) == minReadBuf {
		readBufs.Put((*[minReadBuf]byte)(l.buf))
		l.buf = nil
	}
}
