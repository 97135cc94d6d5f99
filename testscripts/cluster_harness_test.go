package testscripts

// The harness's NATS server, for cluster mode: nats, and the URL serve
// gives servers in the clustered run of the scripts.

import (
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
