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

// nats starts the script's NATS server (JetStream, keeping its streams in
// $WORK/nats) and sets NATS to its URL; or stops it. Started again, it has
// the streams it had, on another port.
func (h *harness) nats(ts *testscript.TestScript, args []string) {
	switch args[0] {
	case "start":
		h.natsURL(ts)
	case "stop":
		if h.natsd == nil {
			ts.Fatalf("nats stop: no NATS server is running")
		}
		h.natsd.Shutdown()
		h.natsd.WaitForShutdown()
		h.natsd = nil
	default:
		ts.Fatalf("usage: nats start|stop")
	}
}

// natsURL returns the URL of the script's NATS server, which it starts if
// need be.
func (h *harness) natsURL(ts *testscript.TestScript) string {
	if h.natsd == nil {
		ns, err := natstest.Start(ts.MkAbs("nats"))
		ts.Check(err)
		h.natsd = ns
		ts.Setenv("NATS", ns.ClientURL())
	}
	return h.natsd.ClientURL()
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
