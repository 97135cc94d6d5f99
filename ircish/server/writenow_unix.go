//go:build unix

package server

import (
	"sync"
	"syscall"
)

// writeNow writes as much of lines as the socket buffer of raw has room
// for, without waiting, and returns the number of bytes written. It
// writes nothing once a write deadline set on the connection has passed.
// It leaves errors to the writer goroutine, whose writes wait and tell a
// full socket from a lost connection.
func writeNow(raw syscall.RawConn, lines [][]byte) int {
	w := nowWriters.Get().(*nowWriter)
	defer nowWriters.Put(w)
	w.lines, w.n = lines, 0
	raw.Write(w.fn)
	w.lines = nil
	return w.n
}

// A nowWriter holds one writeNow's state and the method value passed to
// raw.Write, which is allocated once per nowWriter rather than per call.
type nowWriter struct {
	lines [][]byte
	n     int
	fn    func(fd uintptr) bool // w.write
}

var nowWriters = sync.Pool{New: func() any {
	w := new(nowWriter)
	w.fn = w.write
	return w
}}

func (w *nowWriter) write(fd uintptr) bool {
	for _, line := range w.lines {
		k, err := syscall.Write(int(fd), line)
		w.n += max(k, 0)
		if err != nil || k < len(line) {
			break
		}
	}
	return true // done: do not wait for room
}
