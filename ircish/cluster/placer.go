package cluster

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// placer keeps this server's reader of the stream on the NATS node it is
// connected to, until the cluster is closed. NATS places the reader's
// consumer on any node that holds the stream, and does not relay a
// message through a third node: a reader on another node is lost as soon
// as the route between the two is cut, though both still reach the rest
// of the cluster, and nats.go may take 10 s or more to make it again. So,
// every placeEvery, a reader found on another node is deleted: nats.go
// makes it again, where the last left off, wherever NATS places it then.
func (e *Engine) placer() {
	defer e.tasks.Done()
	for {
		e.placeReader()
		select {
		case <-time.After(placeEvery):
		case <-e.stop:
			return
		}
	}
}

// placeReader deletes this server's reader of the stream if it is on
// another NATS node than the one this server is connected to (see placer).
// It knows the reader by the consumer named in the last message applied.
func (e *Engine) placeReader() {
	e.readMu.Lock()
	name := e.readerName
	e.readMu.Unlock()
	here := e.nc.ConnectedServerName()
	if name == "" || here == "" {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, leaseTimeout)
	defer cancel()
	cons, err := e.js.Consumer(ctx, streamName, name)
	if err != nil {
		return // made again already, or NATS is away: look again later
	}
	info := cons.CachedInfo()
	if info.Cluster == nil || info.Cluster.Leader == "" || info.Cluster.Leader == here {
		return
	}
	err = e.js.DeleteConsumer(ctx, streamName, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		e.log.Warn("cannot make the reader of the stream again", slog.String("on", info.Cluster.Leader), slog.Any("err", err))
		return
	}
	e.log.Info("reader of the stream on another NATS node: making it again", slog.String("on", info.Cluster.Leader), slog.String("here", here))
}

// placeEvery is how often the placer looks where the reader is.
const placeEvery = 2 * time.Second
