package testscripts

// Commands for the client's scenarios: a fake server that the script
// plays by hand, to send what the real server never would (escape
// sequences) and to drop a connection without BYE.

import (
	"net"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// listen starts a fake server named NAME on 127.0.0.1 and a port it picks,
// which it puts in $NAME_PORT. accept NAME then waits for its one
// connection, which becomes the peer NAME.
func (h *harness) listen(ts *testscript.TestScript, args []string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	h.listeners[args[0]] = l
	ts.Setenv(args[0]+"_PORT", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// accept waits for a connection to fake server NAME and makes it the peer
// NAME, for send, sendraw, expect, next and close.
func (h *harness) accept(ts *testscript.TestScript, args []string) {
	l, ok := h.listeners[args[0]]
	if !ok {
		ts.Fatalf("no fake server named %s: listen first", args[0])
	}
	l.(*net.TCPListener).SetDeadline(time.Now().Add(h.timeout(ts)))
	conn, err := l.Accept()
	if err != nil {
		ts.Fatalf("%s: waited %v for a connection: %v", args[0], h.timeout(ts), err)
	}
	lines := new(lineBuf) // the client ends its lines in CRLF, but need not
	go readInto(lines, conn, false)
	h.add(ts, &peer{name: args[0], lines: lines, w: conn, conn: conn})
}
