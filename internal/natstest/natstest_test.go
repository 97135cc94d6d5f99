package natstest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// Cut(1, 2) ends every route connection between nodes 1 and 2, pooled
// ones too, and keeps them apart even when node 3, cut from node 1 and
// back, tells node 2 of node 1 again (gossip), while both still route to
// node 3; Mend(1, 2) brings them together again.
func TestNatstestClusterCuts(t *testing.T) {
	nodes, routes, err := StartClusterWithCuts(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { StopAll(nodes); routes.Close() })
	waitRoutes(t, nodes, "n1:n2 n1:n3 n2:n1 n2:n3 n3:n1 n3:n2")
	// Each route connection is one of the proxies': both its nodes count it.
	var conns, passed int
	for start := time.Now(); conns == 0 || conns != 2*passed; time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the nodes count %d route connections, each twice, and the proxies pass %d", conns, passed)
		}
		conns, passed = routeConns(nodes), routes.passed()
	}

	routes.Cut(1, 2)
	waitRoutes(t, nodes, "n1:n3 n2:n3 n3:n1 n3:n2")
	routes.Cut(1, 3)
	waitRoutes(t, nodes, "n2:n3 n3:n2")
	routes.Mend(1, 3) // node 3 routes to node 1 again, and tells node 2 of it
	waitRoutes(t, nodes, "n1:n3 n2:n3 n3:n1 n3:n2")
	// Node 2 would route to node 1 at once, told of it by node 3, if it
	// could: it tries no more than once.
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
		if got := routed(nodes); got != "n1:n3 n2:n3 n3:n1 n3:n2" {
			t.Fatalf("%v after node 3 was mended to node 1, routes %q; want nodes 1 and 2 still apart, both routed to node 3", time.Since(start).Round(time.Millisecond), got)
		}
	}

	routes.Mend(1, 2)
	waitRoutes(t, nodes, "n1:n2 n1:n3 n2:n1 n2:n3 n3:n1 n3:n2")
}

// waitRoutes waits until the route connections of nodes are want (see
// routed).
func waitRoutes(t *testing.T, nodes []*Node, want string) {
	t.Helper()
	got := routed(nodes)
	for start := time.Now(); got != want; got = routed(nodes) {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("routes %q after 20s; want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// routed returns the pairs of nodes routed to each other as each node's
// Routez tells: "n1:n2" says that n1 has route connections to n2. Sorted,
// space-separated.
func routed(nodes []*Node) string {
	pairs := make(map[string]bool)
	for _, n := range nodes {
		rz, err := n.Routez(nil)
		if err != nil {
			return err.Error()
		}
		for _, r := range rz.Routes {
			pairs[fmt.Sprint(n.Name(), ":", r.RemoteName)] = true
		}
	}
	return strings.Join(slices.Sorted(maps.Keys(pairs)), " ")
}

// routeConns returns the number of route connections the nodes have,
// each counted by both its nodes.
func routeConns(nodes []*Node) int {
	n := 0
	for _, node := range nodes {
		n += node.NumRoutes()
	}
	return n
}

// passed returns the number of connections the proxies pass on.
func (r *Routes) passed() int {
	n := 0
	for _, p := range r.proxies {
		p.mu.Lock()
		n += len(p.conns) / 2
		p.mu.Unlock()
	}
	return n
}
