package servercmd

import (
	"math/rand/v2"
	"net"
	"time"
)

// keepAlive finds a peer that vanished without closing in one to one and a
// half minutes: probes begin after 30 to 60 s of silence (see
// keepAliveListener), then go every 10 s, and 3 unanswered end the
// connection.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 10 * time.Second, Count: 3}

// A keepAliveListener turns on keepalive for each connection it accepts,
// with an idle time of its own between keepAlive.Idle and twice that.
// Connections that fell silent together, after a join storm say, would
// otherwise probe together, and thousands of probes at once can overflow a
// queue, be dropped, and end healthy connections.
type keepAliveListener struct{ net.Listener }

func (l keepAliveListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		cfg := keepAlive
		// The kernel counts whole seconds. Should setting fail, the
		// connection goes on without keepalive.
		cfg.Idle += rand.N(keepAlive.Idle).Truncate(time.Second)
		tc.SetKeepAliveConfig(cfg)
	}
	return conn, err
}
