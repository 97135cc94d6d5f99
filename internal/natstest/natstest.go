// Package natstest runs NATS servers with JetStream inside a test process,
// alone or as a cluster, for the tests of cluster mode. Only tests import
// it, so that the ircish binaries never link the NATS server.
package natstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
func Start(dir string) (*Node, error) { return StartWith(dir, nil) }

// StartWith is Start with options as an operator may set them, by set:
// max_payload, TLS, accounts.
func StartWith(dir string, set func(*server.Options)) (*Node, error) {
	n := &Node{opts: options(dir, "n1")}
	if set != nil {
		set(n.opts)
	}
	return n, n.start()
}

// StartCluster starts count NATS servers as one JetStream cluster, each
// keeping its streams in dir/n1, dir/n2 and so on, on loopback ports. It
// returns once every node is ready. The caller stops them.
func StartCluster(dir string, count int) ([]*Node, error) {
	// The route ports are picked and let go before the nodes take them
	// (see routePorts), so another listener may take one first; the nodes
	// are then started again on other ports.
	var err error
	for range 3 {
		var nodes []*Node
		if nodes, err = startCluster(dir, count); err == nil {
			return nodes, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return nil, err
}

func startCluster(dir string, count int) ([]*Node, error) {
	routes, err := routePorts(count)
	if err != nil {
		return nil, err
	}
	var nodes []*Node
	stop := func() {
		for _, n := range nodes {
			n.Stop()
		}
	}
	for i := range count {
		name := fmt.Sprint("n", i+1)
		opts := options(filepath.Join(dir, name), name)
		port, _ := strconv.Atoi(routes[i].Port())
		// NoAdvertise: a client knows the nodes it was told of, and no
		// others, so that a test can cut it off by stopping them.
		opts.Cluster = server.ClusterOpts{Name: "ircish-test", Host: "127.0.0.1", Port: port, NoAdvertise: true}
		opts.Routes = routes
		n := &Node{opts: opts}
		if err := n.launch(); err != nil {
			stop()
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.ready(); err != nil {
			stop()
			return nil, err
		}
	}
	// JetStream answers once the nodes have elected a leader.
	for deadline := time.Now().Add(20 * time.Second); !hasLeader(nodes); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("natstest: no JetStream leader within 20s")
		}
	}
	return nodes, nil
}

// routePorts picks count free loopback ports for the nodes' routes. A
// JetStream cluster wants every node's routes before it starts, so this is
// the one place where a test picks a port and lets it go, as nothing else
// can say where it will be. The ports are below 32768, where the kernel
// hands out none of its own (to port 0 or to a dialer), so that only
// another test doing the same could take one before the node does.
func routePorts(count int) ([]*url.URL, error) {
	var routes []*url.URL
	for tries := 0; len(routes) < count; tries++ {
		if tries == 1000 {
			return nil, errors.New("natstest: no free port for routes in 20000-31999")
		}
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken: try another
		}
		l.Close()
		routes = append(routes, &url.URL{Scheme: "nats-route", Host: l.Addr().String()})
	}
	return routes, nil
}

func hasLeader(nodes []*Node) bool {
	for _, n := range nodes {
		if n.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// StreamLeader returns the node that leads the stream named stream, or
// nil if none does.
func StreamLeader(nodes []*Node, stream string) *Node {
	for _, n := range nodes {
		if n.Running() && n.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return n
		}
	}
	return nil
}

// URLs returns the client URLs of nodes, comma-separated.
func URLs(nodes []*Node) string {
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.URL())
	}
	return strings.Join(urls, ",")
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
	if err := n.launch(); err != nil {
		return err
	}
	if err := n.ready(); err != nil {
		n.Stop()
		return err
	}
	return nil
}

// launch starts the node's server, and returns once it listens.
func (n *Node) launch() error {
	// A clone: the server fills in options, as one it is given again must not have.
	s, err := server.NewServer(n.opts.Clone())
	if err != nil {
		return err
	}
	s.Start()
	n.Server = s
	return nil
}

// ready waits until the node is ready for clients.
func (n *Node) ready() error {
	if !n.ReadyForConnections(20 * time.Second) {
		return errors.New("natstest: the NATS server was not ready for connections within 20s")
	}
	// Started again, it takes the same port.
	n.opts.Port = n.Addr().(*net.TCPAddr).Port
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
