// Package natstest runs NATS servers with JetStream inside a test process,
// alone or as a cluster, whose routes a test may cut (see Routes), for the
// tests of cluster mode. Only tests import it, so that the ircish binaries
// never link the NATS server.
package natstest

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	stop := func() { StopAll(nodes) }
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
	if err := waitLeader(nodes); err != nil {
		stop()
		return nil, err
	}
	return nodes, nil
}

// waitLeader waits until the nodes have elected a JetStream leader: only
// then does JetStream answer.
func waitLeader(nodes []*Node) error {
	for deadline := time.Now().Add(20 * time.Second); !hasLeader(nodes); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New("natstest: no JetStream leader within 20s")
		}
	}
	return nil
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

// StartClusterWithCuts starts count NATS servers as one JetStream
// cluster, as StartCluster does, but the nodes route to each other only
// through proxies, which the test cuts and mends pair by pair with the
// Routes returned. The caller stops the nodes and closes the Routes.
func StartClusterWithCuts(dir string, count int) ([]*Node, *Routes, error) {
	r, err := newRoutes(count)
	if err != nil {
		return nil, nil, err
	}
	var nodes []*Node
	fail := func(err error) ([]*Node, *Routes, error) {
		StopAll(nodes)
		r.Close()
		return nil, nil, err
	}
	for i := 1; i <= count; i++ {
		name := fmt.Sprint("n", i)
		opts := options(filepath.Join(dir, name), name)
		// The node picks its own route port: the others reach it only
		// through the proxies, which learn the port once it listens. The
		// address it advertises is the one the others would route to it
		// by, should they hear of it from a third node (gossip) while
		// they have no route to it: one that refuses them. (NoAdvertise
		// hides the other nodes from clients only, as in StartCluster.)
		opts.Cluster = server.ClusterOpts{Name: "ircish-test", Host: "127.0.0.1", Port: -1, Advertise: r.refused(), NoAdvertise: true}
		for j := 1; j <= count; j++ {
			if j != i {
				opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: r.proxies[pair{i, j}].l.Addr().String()})
			}
		}
		n := &Node{opts: opts}
		if err := n.start(); err != nil {
			return fail(err)
		}
		// Started again, it takes the same route port, where the proxies lead.
		n.opts.Cluster.Port = n.ClusterAddr().Port
		nodes = append(nodes, n)
	}
	r.serve(nodes)
	if err := waitLeader(nodes); err != nil {
		return fail(err)
	}
	return nodes, r, nil
}

// Routes are the proxies through which the nodes of a cluster started by
// StartClusterWithCuts route to each other: one from each node to each
// other node. A node's only routes are to its proxies, and the address
// each node advertises for routes refuses them, so that every route
// connection between two nodes, each of a pool as much as its first, goes
// through one of the two proxies between them. Its methods are safe to
// call from any goroutine.
type Routes struct {
	proxies map[pair]*proxy
	refuse  [2]net.Conn // the ends of a connection whose local address refuses others (see refusing)
	tasks   sync.WaitGroup
}

// A pair is the node a proxy is dialed by, and the node it passes on to.
type pair struct{ from, to int }

// A proxy passes the connections made to its listener on to a node's
// route port while it is not cut.
type proxy struct {
	l      net.Listener
	target string // the node's route address, set before it serves

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool // the open ones, both ends
}

func newRoutes(count int) (*Routes, error) {
	refuse, err := refusing()
	if err != nil {
		return nil, err
	}
	r := &Routes{proxies: make(map[pair]*proxy), refuse: refuse}
	for from := 1; from <= count; from++ {
		for to := 1; to <= count; to++ {
			if from == to {
				continue
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				r.Close()
				return nil, err
			}
			r.proxies[pair{from, to}] = &proxy{l: l, conns: make(map[net.Conn]bool)}
		}
	}
	return r, nil
}

// refusing returns the two ends of a connection to a listener closed
// since: the local address of the first is one where connections are
// refused, as nothing listens there, and where nothing else can listen
// while the connection is open. An address picked and let go might be
// taken by another test's NATS node.
func refusing() ([2]net.Conn, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return [2]net.Conn{}, err
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return [2]net.Conn{}, err
	}
	s, err := l.Accept()
	if err != nil {
		c.Close()
		return [2]net.Conn{}, err
	}
	return [2]net.Conn{c, s}, nil
}

func (r *Routes) refused() string { return r.refuse[0].LocalAddr().String() }

// serve has the proxies pass connections on to the route ports of nodes,
// which listen.
func (r *Routes) serve(nodes []*Node) {
	for k, p := range r.proxies {
		p.target = nodes[k.to-1].ClusterAddr().String()
		r.tasks.Go(func() {
			for {
				c, err := p.l.Accept()
				if err != nil {
					return // closed
				}
				r.tasks.Go(func() { p.pass(c) })
			}
		})
	}
}

// pass passes c on to the proxy's target, both ways, until either end
// closes it or the proxy is cut. Cut, it closes c at once.
func (p *proxy) pass(c net.Conn) {
	var u net.Conn
	var err error
	if !p.isCut() {
		u, err = net.Dial("tcp", p.target)
	}
	p.mu.Lock()
	if u == nil || err != nil || p.cut {
		p.mu.Unlock()
		c.Close()
		if u != nil {
			u.Close()
		}
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(u, c)
		c.Close()
		u.Close()
	})
	io.Copy(c, u)
	c.Close()
	u.Close()
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

func (p *proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// setCut cuts the proxy, closing its connections, or mends it.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// Cut closes every route connection between the nodes i and j (numbered
// from 1, as their names), both ways, and refuses new ones until Mend.
func (r *Routes) Cut(i, j int) {
	r.proxies[pair{i, j}].setCut(true)
	r.proxies[pair{j, i}].setCut(true)
}

// Mend lets the nodes i and j route to each other again. They do within
// a second or two: each tries again every second.
func (r *Routes) Mend(i, j int) {
	r.proxies[pair{i, j}].setCut(false)
	r.proxies[pair{j, i}].setCut(false)
}

// Close closes the proxies and their connections, and returns once they
// are closed.
func (r *Routes) Close() {
	for _, p := range r.proxies {
		p.l.Close()
		p.setCut(true)
	}
	r.refuse[0].Close()
	r.refuse[1].Close()
	r.tasks.Wait()
}

// StopAll stops nodes.
func StopAll(nodes []*Node) {
	for _, n := range nodes {
		n.Stop()
	}
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
