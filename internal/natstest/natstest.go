// Package natstest starts NATS servers with JetStream inside a test
// process, for the tests of cluster mode. Only tests import it, so that the
// ircish binaries never link the NATS server.
package natstest

import (
	"errors"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start starts a NATS server with JetStream, which keeps its streams in
// dir, on a loopback port. The caller shuts it down.
func Start(dir string) (*server.Server, error) {
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		return nil, err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("natstest: the NATS server was not ready for connections within 10s")
	}
	return s, nil
}
