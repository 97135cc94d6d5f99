package servercmd

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
	"ircish/ircish/cluster"
	"ircish/ircish/server"
)

// In a cluster, /metrics gives the engine's counters too: records
// published, publish retries, fenced, servers heard, and the stream seq
// applied and how far behind; they move as clients talk.
func TestClusterMetrics(t *testing.T) {
	node, err := natstest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	srv := &server.Server{FloodRate: -1, Log: slog.New(slog.DiscardHandler)}
	l := chattest.Listen(t)
	e, err := joinCluster(srv, cluster.Config{URLs: node.URL(), Name: "m1"}, l.Addr(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addr := chattest.Serve(t, srv, l, server.ErrServerClosed)
	dl, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	serveDebug(dl, srv, clusterCollector{e})

	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	ann.Expect("^JOINED bob$")
	for i := range 3 {
		ann.Send(fmt.Sprint("MSG hello ", i))
		bob.Expect(fmt.Sprintf("^MSG ann hello %d$", i))
	}
	// Two joins and three messages at least; leases are published apart.
	mfs := waitForMetrics(t, "http://"+dl.Addr().String()+"/metrics", func(mfs families) []string {
		var problems []string
		for _, w := range []struct {
			name string
			ok   func(float64) bool
			want string
		}{
			{"ircish_cluster_records_published_total", func(v float64) bool { return v >= 5 }, "at least 5"},
			{"ircish_cluster_publish_retries_total", func(v float64) bool { return v == 0 }, "0"},
			{"ircish_cluster_fenced", func(v float64) bool { return v == 0 }, "0"},
			{"ircish_cluster_servers", func(v float64) bool { return v == 1 }, "1"},
			{"ircish_cluster_applied_seq", func(v float64) bool { return v >= 5 }, "at least 5"},
			{"ircish_cluster_behind_messages", func(v float64) bool { return v >= 0 }, "0 or more"},
		} {
			if v, ok := value(mfs, w.name); !ok || !w.ok(v) {
				problems = append(problems, fmt.Sprintf("%s: %v (present: %v), want %s", w.name, v, ok, w.want))
			}
		}
		return problems
	})
	lint(t, mfs)
	if t.Failed() {
		var names []string
		for name := range mfs {
			names = append(names, name)
		}
		t.Logf("metrics: %s", strings.Join(names, " "))
	}
}
