package cluster

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
	"ircish/ircish/server"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A server whose NATS node is cut off from the other two, and that can
// reach no other node, fences itself within 10 s: its clients are told to
// go. The servers of the other two nodes, whose readers of the stream are
// on their own nodes (see placer), are not cut off: they serve on, and
// have the first server's users leave within 10 s if a node of theirs led
// the stream; if the node cut off led it, 4 s after their nodes elected
// another leader (in 4 to 9 s, as a rule): within 20 s. Once the node
// routes again, the first server serves again.
func TestClusterNodeCutOffFences(t *testing.T) {
	for _, leader := range []int{3, 1} {
		t.Run(fmt.Sprint("stream led by node ", leader), func(t *testing.T) {
			t.Parallel()
			c, p := startPair(t, leader, []int{1}, []int{2, 3})
			s3 := c.join(t, []int{3, 2}, "s3")
			dan := chattest.Register(t, s3.addr, "dan")
			p.ann.Expect("^JOINED dan$")
			p.bob.Expect("^JOINED dan$")
			waitReadersHome(t, c.node(3).URL(), p.s1, p.s2, s3)
			cut := time.Now()
			c.cut(1, 2)
			c.cut(1, 3)
			expectBy(t, p.ann, "^BYE this server is cut off from its cluster: connect to another$", cut.Add(10*time.Second))
			t.Logf("ann told to go %v after the cut", time.Since(cut).Round(time.Millisecond))
			if l := p.s1.log.String(); !strings.Contains(l, "cut off from the cluster") {
				t.Errorf("s1 told ann to go, but did not log that it is cut off from the cluster:\n%s", l)
			}
			left := 10 * time.Second
			if leader == 1 {
				left = 20 * time.Second
			}
			for _, c := range []*chattest.Conn{p.bob, dan} {
				expectBy(t, c, "^LEFT ann server lost$", cut.Add(left))
				t.Logf("%s saw ann leave %v after the cut", c.Name, time.Since(cut).Round(time.Millisecond))
			}
			talkFor(t, 5*time.Second, time.Second, p.bob, dan)

			c.mend(1, 2)
			c.mend(1, 3)
			mended := time.Now()
			waitServing(t, p.s1, mended)
			cid := registerWhenServing(t, p.s1.addr, "cid")
			cid.Send("LIST")
			if got, want := cid.Expect("^LIST "), "LIST bob cid dan"; got != want {
				t.Errorf("on s1, back in the cluster, %q; want %q", got, want)
			}
		})
	}
}

// Two servers whose NATS nodes cannot route to each other, but both to
// the third, with which each keeps the stream's quorum, drop nobody: for
// 60 s, neither's client is told that the other left, nor to go, and
// their messages, which go through the stream, reach each other; whether
// the stream is led by the third node or by one of theirs. (Led by the
// node of one, the other moves to the third node, the next it was given.)
func TestClusterRouteCutKeepsUsers(t *testing.T) {
	t.Parallel()
	for _, leader := range []int{3, 1} {
		t.Run(fmt.Sprint("stream led by node ", leader), func(t *testing.T) {
			t.Parallel()
			c, p := startPair(t, leader, []int{1, 3}, []int{2, 3})
			c.cut(1, 2)
			talkFor(t, 60*time.Second, 10*time.Second, p.ann, p.bob)
			c.mend(1, 2)
		})
	}
}

// A pair is two servers of a cutCluster, s1 and s2, and a client of each,
// ann on s1 and bob on s2, who see each other.
type pair struct {
	s1, s2   *cutServer
	ann, bob *chattest.Conn
}

// startPair starts a cutCluster whose stream node leader leads, and a
// pair on it, s1 given the URLs of nodes nodes1, s2 of nodes2.
func startPair(t *testing.T, leader int, nodes1, nodes2 []int) (*cutCluster, pair) {
	t.Helper()
	c := startCutCluster(t)
	var p pair
	p.s1 = c.join(t, nodes1, "s1")
	c.leadStream(t, leader)
	p.s2 = c.join(t, nodes2, "s2")
	p.ann = chattest.Register(t, p.s1.addr, "ann")
	p.bob = chattest.Register(t, p.s2.addr, "bob")
	p.ann.Expect("^JOINED bob$")
	c.checkLeaders(t, leader)
	waitReadersHome(t, c.node(3).URL(), p.s1, p.s2)
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

// A cutServer is a server of a cutCluster, its address and its log.
type cutServer struct {
	*testServer
	addr string
	log  *chattest.LogBuffer
}

// join starts a server named name, given the URLs of nodes, in that
// order, its stream in three replicas, until the test ends; its log is
// logged if the test fails.
func (c *cutCluster) join(t *testing.T, nodes []int, name string) *cutServer {
	t.Helper()
	var urls []string
	for _, i := range nodes {
		urls = append(urls, c.node(i).URL())
	}
	s := &cutServer{log: new(chattest.LogBuffer)}
	s.testServer = &testServer{Server: &server.Server{FloodRate: -1, Log: s.log.Logger()}}
	s.addr = joinCluster(t, s.testServer, Config{URLs: strings.Join(urls, ","), Name: name, Replicas: 3})
	dumpOnFailure(t, map[string]*chattest.LogBuffer{name: s.log})
	return s
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
// stream the stream, as the test has them.
func (c *cutCluster) checkLeaders(t *testing.T, stream int) {
	t.Helper()
	if !c.node(3).JetStreamIsLeader() || natstest.StreamLeader(c.nodes, streamName) != c.node(stream) {
		t.Fatalf("want node 3 to lead JetStream and node %d the stream, but %s", stream, c.leaders())
	}
	t.Log(c.leaders())
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

// waitReadersHome waits until each of servers reads the stream through
// a consumer on the NATS node it is connected to (see placer), asking the
// NATS at url where they are. NATS places a reader on one of the
// stream's nodes at random, so this waits a minute, not the usual 20 s.
func waitReadersHome(t *testing.T, url string, servers ...*cutServer) {
	const timeout = time.Minute
	t.Helper()
	js := jetStreamAt(t, url)
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		var away []string
		for _, s := range servers {
			if on, here := readerNode(js, s.cluster); on != here {
				away = append(away, fmt.Sprintf("%s's on %q, not %q", s.cluster.cfg.Name, on, here))
			}
		}
		if len(away) == 0 {
			return
		}
		if time.Since(start) > timeout {
			t.Fatalf("waited %v for the servers' readers of the stream on their own nodes: %s", timeout, strings.Join(away, "; "))
		}
	}
}

// readerNode returns the node of the consumer through which e reads the
// stream, as js finds it, and the node e is connected to.
func readerNode(js jetstream.JetStream, e *Engine) (on, here string) {
	e.readMu.Lock()
	name := e.readerName
	e.readMu.Unlock()
	here = e.nc.ConnectedServerName()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, streamName, name)
	if err != nil {
		return err.Error(), here
	}
	if info := cons.CachedInfo(); info.Cluster != nil {
		on = info.Cluster.Leader
	}
	return on, here
}

// waitServing waits until s, fenced, serves again, for up to a minute
// since mended, when the routes were mended, and logs how long it took.
func waitServing(t *testing.T, s *cutServer, mended time.Time) {
	t.Helper()
	for s.cluster.fenced.Load() {
		if time.Since(mended) > time.Minute {
			t.Fatalf("%s still cut off from the cluster %v after the routes were mended", s.cluster.cfg.Name, time.Minute)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s serves again %v after the routes were mended", s.cluster.cfg.Name, time.Since(mended).Round(time.Millisecond))
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
