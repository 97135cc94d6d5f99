package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"ircish/ircish/room"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsOptions returns the options of this server's connection to NATS.
// refuse ends the wait to join, for a NATS that refuses this server.
func (e *Engine) natsOptions(refuse context.CancelCauseFunc) []nats.Option {
	c := e.cfg
	// warnNew logs a failure NATS reports, unless it has been logged since
	// this server last connected: NATS that refuses it says so at every
	// try. nats.go calls the handlers one at a time.
	logged := make(map[string]bool)
	oneURL := !strings.Contains(c.URLs, ",")
	warnNew := func(msg string, err error) {
		if refusal(err) && oneURL { // another may take this server
			refuse(err)
		}
		if !logged[err.Error()] {
			if len(logged) >= maxLogged { // errors naming each member's subject, say
				clear(logged)
			}
			logged[err.Error()] = true
			e.log.Warn(msg, slog.Any("err", err))
		}
	}
	opts := []nats.Option{
		nats.Name("ircish " + c.Name),
		// The URLs in the order given: the nearest node first, say, and
		// another when this server must move (see seekQuorum).
		nats.DontRandomize(),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true), // NATS may be starting too
		// Back well within fenceAfter after a blip.
		nats.ReconnectWait(reconnectWait),
		// Go on trying when NATS refuses the credentials, as when it is
		// away: they may be put right (each try reads the file again),
		// and nats.go gives up for good after a second refusal otherwise.
		nats.IgnoreAuthErrorAbort(),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			e.log.Warn("nats disconnected", slog.Any("err", err))
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			warnNew("nats reconnect failed; trying again", err)
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if subject, ok := publishDenied(err); ok {
				e.denied.Store(&denial{subject, time.Now()})
			}
			warnNew("nats error", err)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { e.maxPayload.Store(nc.MaxPayload()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.maxPayload.Store(nc.MaxPayload())
			clear(logged)
			e.log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.CA != "" {
		opts = append(opts, nats.RootCAs(c.CA))
	}
	return opts
}

// maxLogged bounds the failures natsOptions remembers having logged.
const maxLogged = 100

// refusal reports whether err is NATS refusing this server: its
// credentials, or the certificate of NATS, which this server does not
// trust.
func refusal(err error) bool {
	var untrusted *tls.CertificateVerificationError
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.As(err, &untrusted)
}

// start reads the room from the stream, creating it if need be, and
// starts the goroutines of the engine (see Engine). It returns once the
// users of servers lost have left the room (see settle).
func (e *Engine) start(ctx context.Context) error {
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		return err
	}
	if e.sub, err = e.nc.Subscribe(aliveSubject, e.alive); err != nil {
		return err
	}
	// The stream's handle names it: it serves for one made again too.
	err = retry(ctx, func(ctx context.Context) error {
		e.stream, err = e.openStream(ctx)
		return err
	})
	if errors.Is(err, nats.ErrNoResponders) {
		err = fmt.Errorf("%w (is JetStream on? nats-server -js turns it on)", err)
	}
	if err != nil {
		return fmt.Errorf("cannot open the stream %s: %w", streamName, err)
	}
	if err := e.readRoom(ctx); err != nil {
		return err
	}
	e.replicas = e.stream.CachedInfo().Config.Replicas
	e.leased.Store(time.Now().UnixNano())
	e.pub = newPublisher(e)
	e.tasks.Add(6)
	go e.leaser()
	go e.placer()
	go e.watch()
	go e.compactor()
	go e.rereader()
	go e.pub.run()
	if err := e.settle(ctx); err != nil {
		e.cancel()
		close(e.stop)
		e.tasks.Wait()
		e.cons.Stop()
		return err
	}
	return nil
}

// settle waits until the stream has taken this server's lease and it has
// applied it, and until every other server with users in the room has
// been heard from since, or is lost: after a crash, they may be this
// server's former users, reconnecting under their nicks.
func (e *Engine) settle(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var first int64 // the stream seq of this server's first lease
	for {
		if first == 0 && e.leaseSeq.Load() > 0 {
			first = e.leaseSeq.Load()
		}
		if first > 0 && e.lastApplied.Load() >= first && e.settled() {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the users of lost servers to leave: %w", ctx.Err())
		}
	}
}

// settled reports whether every other server with users in the room was
// heard from within aliveEvery of stream time, or is lost.
func (e *Engine) settled() bool {
	e.readMu.Lock()
	defer e.readMu.Unlock()
	rd := e.reading
	if rd == nil || !rd.whole {
		return false
	}
	settled := true
	e.room.Read(func(s *room.State) {
		for _, p := range s.People() {
			n := rd.nodes.By[p.ID.Node]
			if p.ID.Node != e.id && n != nil && !n.Lost && n.Quiet > aliveEvery+leaseTimeout {
				settled = false
				return
			}
		}
	})
	return settled
}

// openStream opens the room's stream. The first server to start creates
// it; the others, and any started at the same time, find it.
func (e *Engine) openStream(ctx context.Context) (jetstream.Stream, error) {
	stream, err := e.js.Stream(ctx, streamName)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return stream, err
	}
	stream, err = e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "the records of an ircish room",
		Subjects:    streamSubjects,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, e.cfg.Replicas),
		Duplicates:  duplicateWindow,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return e.js.Stream(ctx, streamName)
	}
	return stream, err
}

// retry calls f until it succeeds, fails for want of JetStream, refuses
// the stream (see streamRefusal), or ctx ends: a JetStream cluster just
// started answers only once it has elected its leaders, which takes
// seconds.
func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(try)
		cancel()
		if err == nil || errors.Is(err, nats.ErrNoResponders) || errors.As(err, new(streamRefusal)) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}
