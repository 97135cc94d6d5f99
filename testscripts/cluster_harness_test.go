package testscripts

// The harness's NATS server, for cluster mode: nats, and the URL serve
// gives servers in the clustered run of the scripts; and the commands that
// check one order across clients: collect and sameorder.

import (
	"fmt"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"ircish/internal/natstest"
)

// nats start [N] starts the script's NATS server, with JetStream, keeping
// its streams under $WORK/nats; or, given N, a JetStream cluster of N
// nodes, which tell clients of no other node than the one they connect
// to. It sets NATS to their URLs, comma-separated, and NATS_1 to NATS_N to
// each node's. If they were stopped, it starts them again where they
// were. nats stop [I|leader] stops them all, node I, or the node that
// leads the room's stream.
func (h *harness) nats(ts *testscript.TestScript, args []string) {
	switch {
	case args[0] == "start" && len(args) <= 2:
		if h.natsd != nil {
			for _, n := range h.natsd {
				if !n.Running() {
					ts.Check(n.Restart())
				}
			}
			return
		}
		count := 1
		if len(args) == 2 {
			var err error
			if count, err = strconv.Atoi(args[1]); err != nil || count < 1 {
				ts.Fatalf("nats start: N %q: want a number from 1 up", args[1])
			}
		}
		h.startNATS(ts, count)
	case args[0] == "stop" && len(args) <= 2:
		nodes := h.natsd
		if len(args) == 2 && args[1] == "leader" {
			leader := natstest.StreamLeader(h.natsd, "ircish")
			if leader == nil {
				ts.Fatalf("nats stop leader: no node leads the stream ircish")
			}
			ts.Logf("stopping %s, the stream's leader", leader.Name())
			nodes = []*natstest.Node{leader}
		} else if len(args) == 2 {
			nodes = []*natstest.Node{h.natsNode(ts, args[1])}
		}
		for _, n := range nodes {
			n.Stop()
		}
	default:
		ts.Fatalf("usage: %s", natsUsage)
	}
}

const natsUsage = "nats start [N] | nats stop [I|leader]"

func (h *harness) natsNode(ts *testscript.TestScript, i string) *natstest.Node {
	n, err := strconv.Atoi(i)
	if err != nil || n < 1 || n > len(h.natsd) {
		ts.Fatalf("nats: no node %q: want a number from 1 to %d", i, len(h.natsd))
	}
	return h.natsd[n-1]
}

// startNATS starts count NATS nodes, a cluster if more than one.
func (h *harness) startNATS(ts *testscript.TestScript, count int) {
	var err error
	if count == 1 {
		var n *natstest.Node
		n, err = natstest.Start(ts.MkAbs("nats"))
		h.natsd = []*natstest.Node{n}
	} else {
		h.natsd, err = natstest.StartCluster(ts.MkAbs("nats"), count)
	}
	ts.Check(err)
	ts.Setenv("NATS", natstest.URLs(h.natsd))
	for i, n := range h.natsd {
		ts.Setenv(fmt.Sprint("NATS_", i+1), n.URL())
	}
}

// natsURL returns the URLs of the script's NATS servers, and starts one if
// need be.
func (h *harness) natsURL(ts *testscript.TestScript) string {
	if h.natsd == nil {
		h.startNATS(ts, 1)
	}
	return natstest.URLs(h.natsd)
}

// collect reads lines from NAME until N lines read match REGEXP, the lines
// read before included.
func (h *harness) collect(ts *testscript.TestScript, args []string) {
	p, re := h.peer(ts, args[0]), compile(ts, args[2])
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 1 {
		ts.Fatalf("N %q: want a number from 1 up", args[1])
	}
	got, _ := p.lines.matching(re)
	for have := len(got); have < n; have++ {
		h.await(ts, p, fmt.Sprintf("line %d of %d matching %q", have+1, n, args[2]), re.MatchString)
	}
}

// sameorder checks that the lines matching REGEXP that the peers NAME...
// have read are the same, in the same order.
func (h *harness) sameorder(ts *testscript.TestScript, args []string) {
	re := compile(ts, args[0])
	first := h.peer(ts, args[1])
	want, _ := first.lines.matching(re)
	for _, name := range args[2:] {
		got, _ := h.peer(ts, name).lines.matching(re)
		if i := firstDifference(got, want); i >= 0 {
			ts.Fatalf("%s and %s read different lines matching %q: line %d of %d is %s for %s, %s for %s",
				name, first.name, args[0], i+1, max(len(got), len(want)), lineAt(got, i), name, lineAt(want, i), first.name)
		}
	}
	ts.Logf("%d peers read the same %d lines", len(args)-1, len(want))
}

// firstDifference returns the index of the first line where a and b
// differ, or -1 if they are the same.
func firstDifference(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

func lineAt(lines []string, i int) string {
	if i < len(lines) {
		return abbrev(lines[i])
	}
	return "(none)"
}
