//go:build !unix

package server

import "syscall"

// rawConn returns nil here: every connection reads through its own buffer.
func rawConn(any) syscall.RawConn { return nil }

func (l *lineReader) releaseBuf() {}

func (l *lineReader) readIdle(syscall.RawConn) (int, error) {
	l.buf = make([]byte, minReadBuf)
	return l.conn.Read(l.buf)
}
