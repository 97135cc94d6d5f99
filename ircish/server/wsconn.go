package server

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// A wsConn is a WebSocket as the net.Conn of a protocol connection: each
// text message read is a line, given with a LF; each line written, CR LF
// and all, is sent as a text message without them. Its deadlines are
// those of the connection under the WebSocket: a read or write they end
// fails, as on TCP, and the WebSocket stays open (coder/websocket closes
// one whose context ends, so none is given). CloseRead ends reading so:
// the reader reads EOF, and the server can still say BYE. One goroutine
// reads it, one writes it, as with TCP.
type wsConn struct {
	ws  *websocket.Conn
	nc  net.Conn  // the TCP or TLS connection under ws
	msg io.Reader // the message being read, streamed: a line may be 8 MiB
	eol bool      // the LF after a message is still to be read

	mu         sync.Mutex // orders CloseRead and SetReadDeadline
	readClosed atomic.Bool
}

func (c *wsConn) Read(p []byte) (int, error) {
	if c.readClosed.Load() {
		return 0, io.EOF
	}
	if c.eol {
		c.eol = false
		p[0] = '\n'
		return 1, nil
	}
	if c.msg == nil {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return 0, c.readFailed(err)
		}
		if typ != websocket.MessageText {
			c.ws.Close(websocket.StatusUnsupportedData, "text messages only: a line each")
			return 0, errBinary
		}
		c.msg = r
	}
	n, err := c.msg.Read(p)
	if err == io.EOF {
		c.msg, err = nil, nil
		if n < len(p) {
			p[n] = '\n'
			n++
		} else {
			c.eol = true
		}
	}
	if err != nil {
		return n, c.readFailed(err)
	}
	return n, nil
}

var errBinary = errors.New("ircish: binary websocket message")

// readFailed returns the error of a read that failed for err: io.EOF for
// a WebSocket the client closed, as for TCP, or whose reading was closed.
func (c *wsConn) readFailed(err error) error {
	st := websocket.CloseStatus(err)
	if c.readClosed.Load() || st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
		return io.EOF
	}
	return err
}

// Write sends each line of b as a message.
func (c *wsConn) Write(b []byte) (int, error) {
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
		if err := c.ws.Write(context.Background(), websocket.MessageText, line); err != nil {
			return n, err
		}
		n += min(i+1, len(b))
		b = b[min(i+1, len(b)):]
	}
	return n, nil
}

// CloseRead ends reading: the read under way, and every one after,
// returns io.EOF.
func (c *wsConn) CloseRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readClosed.Store(true)
	return c.nc.SetReadDeadline(time.Unix(1, 0))
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readClosed.Load() {
		return nil
	}
	return c.nc.SetReadDeadline(t)
}

func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

func (c *wsConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// Close closes the WebSocket, saying goodbye as it can.
func (c *wsConn) Close() error {
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *wsConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
