package server

import (
	"bytes"
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
// fails, as on TCP (coder/websocket closes a WebSocket whose context
// ends, so none is given). A deadline that passes mid-frame leaves the
// WebSocket out of step, but the server ends a connection whose deadline
// passed anyway. CloseRead ends reading: the reader reads EOF, and the
// server can still say BYE. One goroutine reads it, one writes it, as
// with TCP.
type wsConn struct {
	ws  *websocket.Conn
	nc  net.Conn  // the TCP or TLS connection under ws
	msg io.Reader // the message being read, streamed: a line may be 8 MiB
	eol bool      // the LF after a message is still to be read

	line io.WriteCloser // the message of a line whose end is yet to be written
	cr   bool           // a CR ended the last piece written: dropped if a LF follows

	mu         sync.Mutex // orders CloseRead and SetReadDeadline
	readClosed atomic.Bool
	binary     atomic.Bool // a binary message came: Close says why
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
			c.binary.Store(true)
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

// Write sends each line of b as a message. A line may come in pieces
// (the outbox writes a long one 16 KiB at a time): its message goes on
// until its LF.
func (c *wsConn) Write(b []byte) (int, error) {
	written := 0
	for written < len(b) {
		piece := b[written:]
		i := bytes.IndexByte(piece, '\n')
		end := i >= 0
		if end {
			piece = piece[:i]
		}
		if err := c.writePiece(piece, end); err != nil {
			return written, err
		}
		written += len(piece)
		if end {
			written++
		}
	}
	return written, nil
}

// writePiece sends piece of a line, the last if end. A whole line is sent
// as a message at once; a line's first piece opens a message that its
// last closes. A CR right before the LF is dropped, so a CR that ends a
// piece waits to see what follows.
func (c *wsConn) writePiece(piece []byte, end bool) error {
	if c.cr {
		c.cr = false
		if !end || len(piece) > 0 {
			piece = append([]byte{'\r'}, piece...)
		}
	}
	if end {
		piece = bytes.TrimSuffix(piece, []byte("\r"))
	} else if len(piece) > 0 && piece[len(piece)-1] == '\r' {
		c.cr, piece = true, piece[:len(piece)-1]
	}
	if c.line == nil && end {
		return c.ws.Write(context.Background(), websocket.MessageText, piece)
	}
	if c.line == nil {
		w, err := c.ws.Writer(context.Background(), websocket.MessageText)
		if err != nil {
			return err
		}
		c.line = w
	}
	if _, err := c.line.Write(piece); err != nil {
		return err
	}
	if !end {
		return nil
	}
	err := c.line.Close()
	c.line = nil
	return err
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
	if c.binary.Load() {
		return c.ws.Close(websocket.StatusUnsupportedData, "text messages only: a line each")
	}
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

func (c *wsConn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }
