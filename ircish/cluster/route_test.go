package cluster

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
	"ircish/ircish/server"
)

// A server whose NATS node is cut off from the other two fences itself
// within 10 s: its clients are told to go. The other server, whose node
// still has the stream's quorum, has its users leave within 10 s too.
// Once the node routes again, the server serves again.
func TestClusterNodeCutOffFences(t *testing.T) {
	nodes, routes := startCutCluster(t)
	var log1, log2 chattest.LogBuffer
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Log: log1.Logger()}}
	s2 := &testServer{Server: &server.Server{FloodRate: -1, Log: log2.Logger()}}
	addr1 := joinCluster(t, s1, Config{URLs: nodes[0].URL(), Name: "s1", Replicas: 3})
	addr2 := joinCluster(t, s2, Config{URLs: nodes[1].URL(), Name: "s2", Replicas: 3})
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr2, "bob")
	ann.Expect("^JOINED bob$")
	dumpOnFailure(t, map[string]*chattest.LogBuffer{"s1": &log1, "s2": &log2})

	t.Logf("cutting node 1 off: %s", leaders(nodes))
	cut := time.Now()
	routes.Cut(1, 2)
	routes.Cut(1, 3)
	expectBy(t, ann, "^BYE this server is cut off from its cluster: connect to another$", cut.Add(10*time.Second))
	if l := log1.String(); !strings.Contains(l, "cut off from the cluster") {
		t.Errorf("s1 told ann to go, but did not log that it is cut off from the cluster:\n%s", l)
	}
	expectBy(t, bob, "^LEFT ann server lost$", cut.Add(10*time.Second))

	routes.Mend(1, 2)
	routes.Mend(1, 3)
	cid := registerWhenServing(t, addr1, "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST bob cid" {
		t.Errorf("on s1, back in the cluster, %q; want %q", got, "LIST bob cid")
	}
}

// Two servers whose NATS nodes cannot route to each other, but both to
// the third, which keeps the stream's quorum, drop nobody: for 60 s,
// neither's client is told that the other left, nor to go, and their
// messages, which go through the stream, reach each other.
func TestClusterRouteCutKeepsUsers(t *testing.T) {
	t.Parallel()
	nodes, routes := startCutCluster(t)
	var log1, log2 chattest.LogBuffer
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Log: log1.Logger()}}
	s2 := &testServer{Server: &server.Server{FloodRate: -1, Log: log2.Logger()}}
	addr1 := joinCluster(t, s1, Config{URLs: nodes[0].URL(), Name: "s1", Replicas: 3})
	addr2 := joinCluster(t, s2, Config{URLs: nodes[1].URL(), Name: "s2", Replicas: 3})
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr2, "bob")
	ann.Expect("^JOINED bob$")
	dumpOnFailure(t, map[string]*chattest.LogBuffer{"s1": &log1, "s2": &log2})

	t.Logf("cutting node 1 from node 2: %s", leaders(nodes))
	routes.Cut(1, 2)
	talkFor(t, 60*time.Second, 10*time.Second, ann, bob)
	routes.Mend(1, 2)
}

// startCutCluster starts a three-node JetStream cluster whose routes the
// test may cut, until the test ends.
func startCutCluster(t *testing.T) ([]*natstest.Node, *natstest.Routes) {
	t.Helper()
	nodes, routes, err := natstest.StartClusterWithCuts(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.Stop()
		}
		routes.Close()
	})
	return nodes, routes
}

// leaders says which nodes lead the stream and the JetStream cluster.
func leaders(nodes []*natstest.Node) string {
	stream, meta := "none", "none"
	if n := natstest.StreamLeader(nodes, streamName); n != nil {
		stream = n.Name()
	}
	for _, n := range nodes {
		if n.JetStreamIsLeader() {
			meta = n.Name()
		}
	}
	return fmt.Sprintf("the stream's leader is %s, JetStream's %s", stream, meta)
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
	next := start // the next time they talk
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
