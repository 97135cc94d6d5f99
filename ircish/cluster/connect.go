package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
			logged[err.Error()] = true
			e.log.Warn(msg, slog.Any("err", err))
		}
	}
	opts := []nats.Option{
		nats.Name("ircish " + c.Name),
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
			warnNew("nats error", err)
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { e.maxPayload.Store(nc.MaxPayload()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			e.maxPayload.Store(nc.MaxPayload())
			clear(logged)
			e.log.Info("nats reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
			e.heard()
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

// refusal reports whether err is NATS refusing this server: its
// credentials, or the certificate of NATS, which this server does not
// trust.
func refusal(err error) bool {
	var untrusted *tls.CertificateVerificationError
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired) ||
		errors.As(err, &untrusted)
}

// start creates the stream if need be, reads it to its end and starts
// heartbeats, the watch for lost servers and compaction.
func (e *Engine) start(ctx context.Context, replicas int) error {
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		return err
	}
	err = retry(ctx, func(ctx context.Context) error {
		e.stream, err = e.openStream(ctx, replicas)
		return err
	})
	if errors.Is(err, nats.ErrNoResponders) {
		err = fmt.Errorf("%w (is JetStream on? nats-server -js turns it on)", err)
	}
	if err != nil {
		return fmt.Errorf("cannot open the stream %s: %w", streamName, err)
	}
	if err := e.fixStream(ctx); err != nil {
		return err
	}
	e.replicas = e.stream.CachedInfo().Config.Replicas
	if e.sub, err = e.nc.Subscribe(aliveSubject, e.alive); err != nil {
		return err
	}
	// Heard from while it reads the stream, this server has compaction
	// keep what it has yet to read (see keptFrom, readToEnd).
	e.beat()
	if err := e.readRoom(ctx); err != nil {
		return err
	}
	e.heard()
	e.pub = newPublisher(e)
	e.tasks.Add(4)
	go e.watch()
	go e.compactor()
	go e.rereader()
	go e.pub.run()
	if err := e.clearLost(ctx); err != nil {
		e.cancel()
		close(e.stop)
		e.tasks.Wait()
		e.cons.Stop()
		return err
	}
	return nil
}

// openStream opens the room's stream. The first server to start creates
// it; the others, and any started at the same time, find it.
func (e *Engine) openStream(ctx context.Context, replicas int) (jetstream.Stream, error) {
	stream, err := e.js.Stream(ctx, streamName)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return stream, err
	}
	stream, err = e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "the records of an ircish room",
		Subjects:    []string{sayingsSubject, memberSubjects},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return e.js.Stream(ctx, streamName)
	}
	return stream, err
}

// retry calls f until it succeeds, fails for want of JetStream, or ctx
// ends: a JetStream cluster just started answers only once it has elected
// its leaders, which takes seconds.
func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(try)
		cancel()
		if err == nil || errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
}
