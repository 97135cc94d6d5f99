package cluster

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
	"ircish/ircish/server"

	"github.com/nats-io/nats.go"
)

// A server whose NATS node is cut off from the other two fences itself
// within 10 s: its clients are told to go. The other server, whose node
// still reaches the third, has its users leave within 10 s, whether the
// stream was led by the third node or by the one cut off, which it must
// then elect anew. Once the node routes again, the server serves again.
func TestClusterNodeCutOffFences(t *testing.T) {
	askedFor(t)
	for _, leader := range []int{3, 1} {
		t.Run(fmt.Sprint("stream led by node ", leader), func(t *testing.T) {
			t.Parallel()
			c, p := startPair(t, leader)
			cut := time.Now()
			c.cut(1, 2)
			c.cut(1, 3)
			expectBy(t, p.ann, "^BYE this server is cut off from its cluster: connect to another$", cut.Add(10*time.Second))
			t.Logf("ann told to go %v after the cut", time.Since(cut).Round(time.Millisecond))
			if l := p.log1.String(); !strings.Contains(l, "cut off from the cluster") {
				t.Errorf("s1 told ann to go, but did not log that it is cut off from the cluster:\n%s", l)
			}
			expectBy(t, p.bob, "^LEFT ann server lost$", cut.Add(10*time.Second))
			t.Logf("bob saw ann leave %v after the cut", time.Since(cut).Round(time.Millisecond))

			c.mend(1, 2)
			c.mend(1, 3)
			cid := registerWhenServing(t, p.addr1, "cid")
			cid.Send("LIST")
			if got := cid.Expect("^LIST "); got != "LIST bob cid" {
				t.Errorf("on s1, back in the cluster, %q; want %q", got, "LIST bob cid")
			}
		})
	}
}

// Two servers whose NATS nodes cannot route to each other, but both to
// the third, with which each keeps the stream's quorum, drop nobody: for
// 60 s, neither's client is told that the other left, nor to go, and
// their messages, which go through the stream, reach each other; whether
// the stream is led by the third node or by one of theirs.
func TestClusterRouteCutKeepsUsers(t *testing.T) {
	askedFor(t)
	t.Parallel()
	for _, leader := range []int{3, 1} {
		t.Run(fmt.Sprint("stream led by node ", leader), func(t *testing.T) {
			t.Parallel()
			c, p := startPair(t, leader)
			c.cut(1, 2)
			talkFor(t, 60*time.Second, 10*time.Second, p.ann, p.bob)
			c.mend(1, 2)
		})
	}
}

// askedFor skips the test unless IRCISH_ROUTE_CUT_TESTS is set. These
// tests do not all pass yet, for want of the cluster (see README,
// Cluster, "Routes cut between NATS nodes"): a server alone on the side
// of a cut that keeps the quorum fences itself while NATS elects the
// stream's leader anew (4 to 9 s); a server whose node cannot route to
// the stream's leader cannot publish, as NATS does not relay through a
// third node; and a server's reader, a consumer NATS places on any node,
// is lost when that node is across the cut.
func askedFor(t *testing.T) {
	if os.Getenv("IRCISH_ROUTE_CUT_TESTS") == "" {
		t.Skip("set IRCISH_ROUTE_CUT_TESTS=1 to run: not all pass yet (see askedFor)")
	}
}

// A pair is two servers of a cutCluster, s1 on node 1 and s2 on node 2,
// and a client of each, ann on s1 and bob on s2, who see each other.
type pair struct {
	addr1    string
	log1     *chattest.LogBuffer
	ann, bob *chattest.Conn
}

// startPair starts a cutCluster whose stream node leader leads, and a
// pair on it.
func startPair(t *testing.T, leader int) (*cutCluster, pair) {
	t.Helper()
	c := startCutCluster(t)
	var p pair
	p.addr1, p.log1 = c.join(t, 1, "s1")
	c.leadStream(t, leader)
	addr2, log2 := c.join(t, 2, "s2")
	dumpOnFailure(t, map[string]*chattest.LogBuffer{"s1": p.log1, "s2": log2})
	p.ann = chattest.Register(t, p.addr1, "ann")
	p.bob = chattest.Register(t, addr2, "bob")
	p.ann.Expect("^JOINED bob$")
	c.checkLeaders(t, leader)
	return c, p
}

// A cutCluster is a three-node JetStream cluster whose routes the test
// cuts. The test knows its nodes as nodes 1, 2 and 3, node 3 being the
// one that leads JetStream, which makes the servers' readers of the
// stream: a server whose reader is lost makes another through it, and can
// only if its node routes to it.
type cutCluster struct {
	nodes  []*natstest.Node
	routes *natstest.Routes
	num    [3]int // the natstest numbers of nodes 1, 2 and 3
}

// startCutCluster starts a cutCluster, until the test ends.
func startCutCluster(t *testing.T) *cutCluster {
	t.Helper()
	nodes, routes, err := natstest.StartClusterWithCuts(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natstest.StopAll(nodes); routes.Close() })
	c := &cutCluster{nodes: nodes, routes: routes}
	chattest.WaitFor(t, "one node to lead JetStream", func() bool {
		next := 0
		for i, n := range nodes {
			switch {
			case n.JetStreamIsLeader():
				c.num[2] = i + 1
			case next < 2:
				c.num[next] = i + 1
				next++
			default:
				return false // none leads
			}
		}
		return next == 2
	})
	return c
}

// node returns node i, as the test knows it.
func (c *cutCluster) node(i int) *natstest.Node { return c.nodes[c.num[i-1]-1] }

// cut cuts the routes between nodes i and j.
func (c *cutCluster) cut(i, j int) { c.routes.Cut(c.num[i-1], c.num[j-1]) }

// mend mends the routes between nodes i and j.
func (c *cutCluster) mend(i, j int) { c.routes.Mend(c.num[i-1], c.num[j-1]) }

// join starts a server named name on node i alone, its stream in three
// replicas, until the test ends, and returns its address and log.
func (c *cutCluster) join(t *testing.T, i int, name string) (string, *chattest.LogBuffer) {
	t.Helper()
	var log chattest.LogBuffer
	s := &testServer{Server: &server.Server{FloodRate: -1, Log: log.Logger()}}
	return joinCluster(t, s, Config{URLs: c.node(i).URL(), Name: name, Replicas: 3}), &log
}

// leadStream has node i lead the room's stream.
func (c *cutCluster) leadStream(t *testing.T, i int) {
	t.Helper()
	nc, err := nats.Connect(c.node(3).URL())
	check(t, err)
	defer nc.Close()
	want := c.node(i).Name()
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		n := natstest.StreamLeader(c.nodes, streamName)
		if n != nil && n.Name() == want {
			return
		}
		if time.Since(start) > chattest.WaitTimeout {
			t.Fatalf("node %d did not come to lead the stream within %v: %s", i, chattest.WaitTimeout, c.leaders())
		}
		if n != nil { // else it is electing one
			// The reply tells no more than the next look at the leader:
			// a request lost while the leader moves is sent again.
			nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+streamName, []byte(`{"placement":{"preferred":"`+want+`"}}`), time.Second)
		}
	}
}

// checkLeaders fails the test unless node 3 leads JetStream and node
// stream the stream, as the test has them, and logs where the servers'
// readers of the stream are.
func (c *cutCluster) checkLeaders(t *testing.T, stream int) {
	t.Helper()
	if !c.node(3).JetStreamIsLeader() || natstest.StreamLeader(c.nodes, streamName) != c.node(stream) {
		t.Fatalf("want node 3 to lead JetStream and node %d the stream, but %s", stream, c.leaders())
	}
	t.Logf("%s; the servers read through consumers on %s", c.leaders(), c.readers(t))
}

// leaders says which nodes lead JetStream and the stream.
func (c *cutCluster) leaders() string {
	meta, stream := "no node", "no node"
	for _, n := range c.nodes {
		if n.JetStreamIsLeader() {
			meta = c.which(n.Name())
		}
	}
	if n := natstest.StreamLeader(c.nodes, streamName); n != nil {
		stream = c.which(n.Name())
	}
	return fmt.Sprintf("JetStream is led by %s, the stream by %s", meta, stream)
}

// readers says on which nodes the stream's consumers are, through which
// the servers read it: a server reads only through one on a node its own
// routes to.
func (c *cutCluster) readers(t *testing.T) string {
	t.Helper()
	js := jetStreamAt(t, c.node(3).URL())
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	stream, err := js.Stream(ctx, streamName)
	check(t, err)
	var on []string
	consumers := stream.ListConsumers(ctx)
	for info := range consumers.Info() {
		if info.Cluster != nil {
			on = append(on, c.which(info.Cluster.Leader))
		}
	}
	check(t, consumers.Err())
	slices.Sort(on)
	return strings.Join(on, " and ")
}

// which names the node whose server name is name as the test knows it.
func (c *cutCluster) which(name string) string {
	for i := 1; i <= 3; i++ {
		if c.node(i).Name() == name {
			return fmt.Sprintf("node %d (%s)", i, name)
		}
	}
	return fmt.Sprintf("%q, no node", name)
}

// dumpOnFailure logs the servers' logs, by name, if the test fails.
func dumpOnFailure(t *testing.T, logs map[string]*chattest.LogBuffer) {
	t.Cleanup(func() {
		if t.Failed() {
			for name, l := range logs {
				t.Logf("%s's log:\n%s", name, l.String())
			}
		}
	})
}

// expectBy skips c's lines up to one that matches pattern, and returns
// it; it fails the test if none came by deadline.
func expectBy(t *testing.T, c *chattest.Conn, pattern string, deadline time.Time) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	timeout := time.After(time.Until(deadline))
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				t.Fatalf("%s: connection closed while waiting for %q; last lines: %q", c.Name, pattern, c.Last())
			}
			c.Seen = append(c.Seen, line)
			if re.MatchString(line) {
				return line
			}
		case <-timeout:
			t.Fatalf("%s: no line matching %q by %s; last lines: %q", c.Name, pattern, deadline.Format("15:04:05.000"), c.Last())
		}
	}
}

// talkFor has a and b each say a message every every, for d, and fails the
// test if a message does not reach the other within every, or if either
// is told that someone left, or to go, or is closed.
func talkFor(t *testing.T, d, every time.Duration, a, b *chattest.Conn) {
	t.Helper()
	other := map[*chattest.Conn]*chattest.Conn{a: b, b: a}
	due := map[*chattest.Conn]map[string]time.Time{a: {}, b: {}} // the lines each is to see, by when
	start := time.Now()
	end := start.Add(d)
	next := start // when they next talk
	for n := 1; ; {
		now := time.Now()
		if !now.Before(next) && next.Before(end) {
			for _, c := range []*chattest.Conn{a, b} {
				text := fmt.Sprintf("from %s %d", c.Name, n)
				c.Send("MSG " + text)
				due[other[c]]["MSG "+c.Name+" "+text] = now.Add(every)
			}
			n++
			next = next.Add(every)
		}
		wake := end
		if next.Before(wake) {
			wake = next
		}
		pending := false
		for c, lines := range due {
			for line, by := range lines {
				if now.After(by) {
					t.Fatalf("%s: no %q within %v, %v after the start; last lines: %q", c.Name, line, every, now.Sub(start).Round(time.Millisecond), c.Last())
				}
				pending = true
				if by.Before(wake) {
					wake = by
				}
			}
		}
		if !now.Before(end) && !pending {
			return
		}
		var c *chattest.Conn
		var line string
		var ok bool
		select {
		case line, ok = <-a.Lines:
			c = a
		case line, ok = <-b.Lines:
			c = b
		case <-time.After(time.Until(wake)):
			continue
		}
		if !ok {
			t.Fatalf("%s: closed %v after the start; last lines: %q", c.Name, time.Since(start).Round(time.Millisecond), c.Last())
		}
		c.Seen = append(c.Seen, line)
		if strings.HasPrefix(line, "LEFT ") || strings.HasPrefix(line, "BYE ") {
			t.Fatalf("%s: %q %v after the start; last lines: %q", c.Name, line, time.Since(start).Round(time.Millisecond), c.Last())
		}
		delete(due[c], line)
	}
}
