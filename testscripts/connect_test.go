package testscripts

// Protocol connections to the server: connect, with its flags, and join.

import (
	"crypto/tls"
	"flag"
	"io"
	"net"
	"regexp"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

const connectUsage = "connect [-noread] [-from IP] [-send STRING] [-tls [-ca FILE] [-tls-max 1.0|1.1|1.2|1.3]] NAME [addr]"

// noreadBuf is the receive buffer a -noread connection asks for, so that
// it fills after a few kilobytes rather than megabytes.
const noreadBuf = 4096

// readBuf is the receive buffer a -noread connection gets once it is read.
const readBuf = 1 << 20

// connect opens a protocol connection named NAME to addr, by default the
// server's $ADDR. With -noread, the connection has a small receive buffer
// and nothing reads it until the read command. With -tls it speaks TLS
// (1.2 or later unless -tls-max says less), trusting the certificates in
// -ca's PEM file, or the system's; the handshake happens as it is first
// read or written. With -send, it sends STRING (escapes as for sendraw) as
// soon as it is connected, as a web client does. With -from, it connects
// from that address (any 127.x address is this machine's).
func (h *harness) connect(ts *testscript.TestScript, args []string) {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noread := fs.Bool("noread", false, "")
	useTLS := fs.Bool("tls", false, "")
	caFile := fs.String("ca", "", "")
	tlsMax := fs.String("tls-max", "", "")
	first := fs.String("send", "", "")
	from := fs.String("from", "", "")
	if fs.Parse(args) != nil || fs.NArg() < 1 || fs.NArg() > 2 || !*useTLS && (*caFile != "" || *tlsMax != "") {
		ts.Fatalf("usage: %s", connectUsage)
	}
	args = fs.Args()
	name, addr := args[0], ts.Getenv("ADDR")
	if len(args) == 2 {
		addr = args[1]
	}
	d := net.Dialer{Timeout: h.timeout(ts)}
	if *from != "" {
		ip := net.ParseIP(*from)
		if ip == nil {
			ts.Fatalf("connect: -from %q is not an IP address", *from)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	if *noread {
		d.Control = func(network, address string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, noreadBuf)
			})
			return err
		}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		ts.Fatalf("%s: %v", name, err)
	}
	if *useTLS {
		conn = tls.Client(conn, h.tlsConfig(ts, addr, *caFile, *tlsMax))
	}
	if *first != "" {
		if _, err := io.WriteString(conn, unescape(ts, *first)); err != nil {
			ts.Fatalf("%s: %v", name, err)
		}
	}
	p := &peer{name: name, lines: &lineBuf{crlf: true}, w: conn, conn: conn}
	h.add(ts, p)
	if *noread {
		h.unread[p] = conn
		return
	}
	go readInto(p.lines, conn, false)
}

// join connects NAME to the server and registers it as NAME: connect,
// send NICK, and expect its own JOINED.
func (h *harness) join(ts *testscript.TestScript, args []string) {
	h.connect(ts, args)
	h.send(ts, []string{args[0], "NICK", args[0]})
	h.expect(ts, []string{args[0], "^JOINED " + regexp.QuoteMeta(args[0]) + "$"})
}

// netConn returns the TCP connection under conn.
func netConn(conn net.Conn) net.Conn {
	if tc, ok := conn.(*tls.Conn); ok {
		return tc.NetConn()
	}
	return conn
}
