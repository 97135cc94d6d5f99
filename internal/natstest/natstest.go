// Package natstest starts NATS servers with JetStream inside a test
// process, for the tests of cluster mode. Only tests import it, so that the
// ircish binaries never link the NATS server.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a NATS server with JetStream, which keeps its streams in
// dir, on a loopback port, until the test ends or it is shut down.
func Start(t testing.TB, dir string) *server.Server {
	t.Helper()
	return start(t, &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
}

func start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("NATS server: %v", err)
	}
	s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server: not ready for connections within 10s")
	}
	return s
}
