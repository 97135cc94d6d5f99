package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// A wsConn is a WebSocket as the net.Conn of a protocol connection: each
// text message read is a line, given with a LF; each line written, CR LF
// and all, is sent as a text message without them. Its deadlines end its
// reads and writes as a TCP connection's do, but close it as they pass
// (coder/websocket closes a connection whose context ends): the server
// closes a connection at every deadline that passes anyway. One goroutine
// reads it, one writes it, as with TCP.
type wsConn struct {
	ws            *websocket.Conn
	local, remote net.Addr
	msg           io.Reader // the message being read, streamed: a line may be 8 MiB
	msgDone       func()    // ends msg's context
	eol           bool      // the LF after a message is still to be read
	closed        func()    // called once, as it closes
	closeOnce     sync.Once
	mu            sync.Mutex
	readDeadline  deadline
	writeDeadline deadline
}

// A deadline ends the context of a read or write when it passes.
type deadline struct {
	at     time.Time
	cancel context.CancelFunc // of the read or write under way, if any
	timer  *time.Timer
}

func newWSConn(ws *websocket.Conn, r *http.Request) *wsConn {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote := net.Addr(&net.TCPAddr{})
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	return &wsConn{ws: ws, local: local, remote: remote}
}

func (c *wsConn) Read(p []byte) (int, error) {
	if c.eol {
		c.eol = false
		p[0] = '\n'
		return 1, nil
	}
	if c.msg == nil {
		ctx, done := c.begin(&c.readDeadline)
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			done()
			return 0, c.fail(err)
		}
		if typ != websocket.MessageText {
			done()
			c.ws.Close(websocket.StatusUnsupportedData, "text messages only: a line each")
			return 0, c.fail(errBinary)
		}
		c.msg, c.msgDone = r, done
	}
	n, err := c.msg.Read(p)
	if err == io.EOF {
		c.msgDone()
		c.msg, c.msgDone, err = nil, nil, nil
		if n < len(p) {
			p[n] = '\n'
			n++
		} else {
			c.eol = true
		}
	}
	if err != nil {
		c.msgDone()
		return n, c.fail(err)
	}
	return n, nil
}

var errBinary = errors.New("ircish: binary websocket message")

// Write sends each line of b as a message.
func (c *wsConn) Write(b []byte) (int, error) {
	ctx, done := c.begin(&c.writeDeadline)
	defer done()
	n := 0
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		line := b[:i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if err := c.ws.Write(ctx, websocket.MessageText, line); err != nil {
			return n, c.fail(err)
		}
		n += min(i+1, len(b))
		b = b[min(i+1, len(b)):]
	}
	return n, nil
}

// begin returns the context of a read or write, which d's time ends, and
// the function that ends it.
func (c *wsConn) begin(d *deadline) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	defer c.mu.Unlock()
	d.cancel = cancel
	c.arm(d)
	return ctx, func() {
		c.mu.Lock()
		d.cancel = nil
		if d.timer != nil {
			d.timer.Stop()
		}
		c.mu.Unlock()
		cancel()
	}
}

// arm has d's time end the read or write under way. The caller holds c.mu.
func (c *wsConn) arm(d *deadline) {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.cancel == nil || d.at.IsZero() {
		return
	}
	if wait := time.Until(d.at); wait > 0 {
		d.timer = time.AfterFunc(wait, d.cancel)
	} else {
		d.cancel()
	}
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.set(&c.readDeadline, t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.set(&c.writeDeadline, t) }

func (c *wsConn) SetDeadline(t time.Time) error {
	c.set(&c.readDeadline, t)
	return c.set(&c.writeDeadline, t)
}

func (c *wsConn) set(d *deadline, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d.at = t
	c.arm(d)
	return nil
}

// fail returns the error of a read or write that failed for err: io.EOF
// for a WebSocket the client closed, as for TCP.
func (c *wsConn) fail(err error) error {
	if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
		return io.EOF // as a TCP connection the client closed
	}
	return err
}

// Close closes the WebSocket, saying goodbye as it can.
func (c *wsConn) Close() error {
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *wsConn) LocalAddr() net.Addr  { return c.local }
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }
