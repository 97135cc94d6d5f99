// Package natstest runs NATS servers with JetStream inside a test process,
// alone or as a cluster, for the tests of cluster mode. Only tests import
// it, so that the ircish binaries never link the NATS server.
package natstest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// A Node is a NATS server of the test's, which it can stop and start
// again where it was: on the same ports, with the same streams.
type Node struct {
	*server.Server
	opts *server.Options
}

// Start starts a NATS server with JetStream, which keeps its streams in
// dir, on a loopback port. The caller stops it.
func Start(dir string) (*Node, error) {
	n := &Node{opts: options(dir, "n1")}
	return n, n.start()
}

// StartCluster starts count NATS servers as one JetStream cluster, each
// keeping its streams in dir/n1, dir/n2 and so on, on loopback ports. It
// returns once the cluster has a JetStream leader. The caller stops them.
func StartCluster(dir string, count int) ([]*Node, error) {
	var nodes []*Node
	stop := func() {
		for _, n := range nodes {
			n.Stop()
		}
	}
	var routes []*url.URL
	for i := range count {
		name := fmt.Sprint("n", i+1)
		opts := options(filepath.Join(dir, name), name)
		opts.Cluster = server.ClusterOpts{Name: "ircish-test", Host: "127.0.0.1", Port: -1}
		opts.Routes = routes // the first node's: the others learn of each other from it
		n := &Node{opts: opts}
		if err := n.start(); err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, n)
		if i == 0 {
			routes = []*url.URL{{Scheme: "nats-route", Host: n.ClusterAddr().String()}}
		}
	}
	// Started again, a node finds the others where they were.
	for _, n := range nodes {
		n.opts.Routes = nil
		for _, other := range nodes {
			if other != n {
				n.opts.Routes = append(n.opts.Routes, &url.URL{Scheme: "nats-route", Host: other.ClusterAddr().String()})
			}
		}
	}
	for deadline := time.Now().Add(20 * time.Second); !hasLeader(nodes); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("natstest: no JetStream leader within 20s")
		}
	}
	return nodes, nil
}

// URLs returns the client URLs of nodes, comma-separated.
func URLs(nodes []*Node) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	return strings.Join(urls, ",")
}

func hasLeader(nodes []*Node) bool {
	for _, n := range nodes {
		if n.Running() && n.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

func options(dir, name string) *server.Options {
	return &server.Options{
		ServerName: name,
		Host:       "127.0.0.1",
		Port:       -1,
		JetStream:  true,
		StoreDir:   dir,
		NoLog:      true,
		NoSigs:     true,
	}
}

func (n *Node) start() error {
	s, err := server.NewServer(n.opts)
	if err != nil {
		return err
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return errors.New("natstest: the NATS server was not ready for connections within 10s")
	}
	n.Server = s
	// Started again, it takes the same ports.
	n.opts.Port = s.Addr().(*net.TCPAddr).Port
	if a := s.ClusterAddr(); a != nil {
		n.opts.Cluster.Port = a.Port
	}
	return nil
}

// URL returns the node's client URL, running or not.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.opts.Port) }

// Stop shuts the node down and waits until it has.
func (n *Node) Stop() {
	n.Shutdown()
	n.WaitForShutdown()
}

// Restart starts a stopped node again, where it was.
func (n *Node) Restart() error { return n.start() }
