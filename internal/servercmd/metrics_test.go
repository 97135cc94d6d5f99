package servercmd

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"ircish/internal/chattest"
	"ircish/ircish/server"
)

// /metrics on the debug listener gives the server's counters in the
// Prometheus text format, and they move as clients register, talk, flood,
// ask for history, and are refused and dropped; /debug/vars and pprof are
// still served beside it.
func TestMetrics(t *testing.T) {
	srv := &server.Server{MaxClients: 2, FloodRate: 100, FloodBurst: 5, Log: slog.New(slog.DiscardHandler)}
	sc := &script{t: t, addr: chattest.Serve(t, srv, chattest.Listen(t), server.ErrServerClosed)}
	l, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "ircish_test_other", Help: "Another's metric, as a cluster engine's."})
	serveDebug(l, srv, other)
	base := "http://" + l.Addr().String()

	before := scrape(t, base+"/metrics")
	sc.talk(srv)
	wants := []want{
		{"ircish_connections", nil, 2},
		{"ircish_members", nil, 2},
		{"ircish_lines_received_total", nil, float64(sc.sent)},
		{"ircish_clients_dropped_total", []string{"cause", "lines_before_nick"}, 1},
		{"ircish_clients_dropped_total", []string{"cause", "send_queue"}, 0},
		{"ircish_connections_refused_total", []string{"cause", "server_full"}, 1},
		{"ircish_connections_refused_total", []string{"cause", "ip_rate"}, 0},
		{"ircish_registrations_refused_total", []string{"cause", "nick_in_use"}, 1},
		{"ircish_registrations_refused_total", []string{"cause", "nick_invalid"}, 1},
		{"ircish_history_requests_total", []string{"kind", "last"}, 1},
		{"ircish_history_requests_total", []string{"kind", "after"}, 1},
		{"ircish_history_requests_total", []string{"kind", "live"}, 1},
		{"ircish_test_other", nil, 0},
	}
	if problems := checkWants(before, atZero(wants)); len(problems) > 0 {
		t.Errorf("before the clients came, /metrics says:\n%s", strings.Join(problems, "\n"))
	}
	roomLines, bytes := sc.received()
	// The counts of what was written move once the write returns, which
	// may be after the client read it: wait for them.
	mfs := waitForMetrics(t, base+"/metrics", func(mfs families) []string {
		problems := checkWants(mfs, wants)
		problems = append(problems, checkWritten(mfs, roomLines, bytes)...)
		return append(problems, checkPresent(mfs)...)
	})
	lint(t, mfs)
	for path, want := range map[string]string{"/debug/vars": fmt.Sprintf(`"LinesIn":%d,`, sc.sent), "/debug/pprof/": "goroutine"} {
		if body := get(t, base+path); !strings.Contains(body, want) {
			t.Errorf("GET %s: %q does not say %q", path, body[:min(len(body), 300)], want)
		}
	}
}

// A script drives clients of a server, and counts what they send.
type script struct {
	t     *testing.T
	addr  string
	conns []*chattest.Conn // those whose lines the server queued
	sent  int              // lines sent, empty ones aside
}

func (s *script) dial(name string) *chattest.Conn {
	c := chattest.Dial(s.t, s.addr, name)
	s.conns = append(s.conns, c)
	return c
}

func (s *script) send(c *chattest.Conn, lines ...string) {
	s.t.Helper()
	for _, line := range lines {
		c.Send(line)
		if strings.TrimLeft(line, " ") != "" {
			s.sent++
		}
	}
}

// talk has alice register, carol send too many lines before NICK, dave be
// refused as the server is full, bob have two nicks refused before his
// third, alice flood the room and ask for seqs, and bob ask for history.
func (s *script) talk(srv *server.Server) {
	s.t.Helper()
	alice, carol := s.dial("alice"), s.dial("carol")
	s.send(alice, "NICK alice", "")
	alice.Expect("^JOINED alice$")
	carol.Expect("^WELCOME ")
	dave := chattest.Dial(s.t, s.addr, "dave") // the third: refused
	dave.Expect("^ERR SERVER_FULL ")
	for i := range 31 {
		s.send(carol, fmt.Sprint("PING ", i))
	}
	carol.Expect("^BYE too many lines before NICK$")
	carol.Closed()
	carol.NetConn.Close()
	chattest.WaitFor(s.t, "carol's connection to end", func() bool { return srv.Stats().Connections == 1 })

	bob := s.dial("bob")
	s.send(bob, "NICK alice", "NICK bob!", "NICK bob")
	bob.Expect("^ERR NICK_IN_USE ")
	bob.Expect("^ERR NICK_INVALID ")
	bob.Expect("^JOINED bob$")
	for i := range 10 { // past the flood burst
		s.send(alice, fmt.Sprint("MSG hello ", i))
	}
	s.send(alice, "HISTORY LIVE")
	alice.Expect("^HISTORY LIVE$")
	bob.Expect("^MSG alice hello 9$")
	for _, args := range []string{"5", "AFTER 0"} {
		bob.AskHistory(args)
		s.sent++
	}
	for _, c := range []*chattest.Conn{alice, bob} { // everything is read
		c.Barrier()
		s.sent++
	}
}

// received returns the room's lines the clients read, and the bytes of
// all the lines they read.
func (s *script) received() (roomLines, bytes int) {
	for _, c := range s.conns {
		for _, line := range c.Seen {
			if roomLine.MatchString(line) {
				roomLines++
			}
			bytes += len(line) + len("\r\n")
		}
	}
	return roomLines, bytes
}

var roomLine = regexp.MustCompile(`^(MSG|JOINED|RENAMED|LEFT|WHISPER) `)

type families = map[string]*dto.MetricFamily

// A want is a counter's or a gauge's value: labels are name, value pairs.
type want struct {
	name   string
	labels []string
	value  float64
}

// atZero returns wants with every value 0, as a fresh server has them.
func atZero(wants []want) []want {
	zero := slices.Clone(wants)
	for i := range zero {
		zero[i].value = 0
	}
	return zero
}

func checkWants(mfs families, wants []want) []string {
	var problems []string
	for _, w := range wants {
		if got, ok := value(mfs, w.name, w.labels...); !ok || got != w.value {
			problems = append(problems, fmt.Sprintf("%s%v = %v (found: %v), want %v", w.name, w.labels, got, ok, w.value))
		}
	}
	return problems
}

// checkWritten checks the counts of what was sent to clients against
// what they read, and against the histogram of write batches.
func checkWritten(mfs families, roomLines, bytes int) []string {
	var problems []string
	if got, _ := value(mfs, "ircish_lines_delivered_total"); got != float64(roomLines) {
		problems = append(problems, fmt.Sprintf("ircish_lines_delivered_total = %v, want %d: the room's lines the clients read", got, roomLines))
	}
	got, _ := value(mfs, "ircish_sent_bytes_total")
	if got != float64(bytes) {
		problems = append(problems, fmt.Sprintf("ircish_sent_bytes_total = %v, want %d: the bytes the clients read", got, bytes))
	}
	var h *dto.Histogram
	if mf := mfs["ircish_write_batch_bytes"]; mf != nil && mf.GetType() == dto.MetricType_HISTOGRAM {
		h = mf.GetMetric()[0].GetHistogram()
	}
	switch {
	case h == nil:
		problems = append(problems, "no histogram ircish_write_batch_bytes")
	case h.GetSampleSum() != got || h.GetSampleCount() == 0:
		problems = append(problems, fmt.Sprintf("ircish_write_batch_bytes: %d batches of %v bytes in all, want some, of ircish_sent_bytes_total = %v bytes",
			h.GetSampleCount(), h.GetSampleSum(), got))
	}
	return problems
}

// checkPresent checks that the metrics that move by themselves, or not
// in a test, are there: the flood limit's, the Go runtime's, the
// process's.
func checkPresent(mfs families) []string {
	var problems []string
	if got, _ := value(mfs, "ircish_flood_delays_total"); got == 0 {
		problems = append(problems, "ircish_flood_delays_total = 0, want some: carol's 31 lines and alice's 10 outran a burst of 5")
	}
	names := []string{"go_goroutines", "go_memstats_heap_alloc_bytes"}
	if runtime.GOOS == "linux" {
		names = append(names, "process_cpu_seconds_total", "process_open_fds")
	}
	for _, name := range names {
		if _, ok := value(mfs, name); !ok {
			problems = append(problems, "no metric "+name)
		}
	}
	return problems
}

// value returns the value of the counter or gauge name with labels
// among its own, and whether there is one.
func value(mfs families, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	for _, m := range mf.GetMetric() {
		has := map[string]string{}
		for _, p := range m.GetLabel() {
			has[p.GetName()] = p.GetValue()
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			match = match && has[labels[i]] == labels[i+1]
		}
		switch {
		case !match:
		case mf.GetType() == dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case mf.GetType() == dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// waitForMetrics scrapes url until check finds no problem in what it
// says, and returns that; it fails the test with the problems of the
// last scrape after chattest.WaitTimeout.
func waitForMetrics(t *testing.T, url string, check func(families) []string) families {
	t.Helper()
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		mfs := scrape(t, url)
		problems := check(mfs)
		if len(problems) == 0 {
			return mfs
		}
		if time.Since(start) > chattest.WaitTimeout {
			t.Fatalf("after %v, /metrics says:\n%s", chattest.WaitTimeout, strings.Join(problems, "\n"))
		}
	}
}

// scrape gets url and parses it as the Prometheus text format.
func scrape(t *testing.T, url string) families {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET %s: %s, Content-Type %q; want 200 OK and the Prometheus text format", url, resp.Status, ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not the Prometheus text format: %v", url, err)
	}
	return mfs
}

// lint checks the names and helps of the server's metrics against
// Prometheus's conventions.
func lint(t *testing.T, mfs families) {
	t.Helper()
	var ours []*dto.MetricFamily
	for name, mf := range mfs {
		if strings.HasPrefix(name, "ircish_") {
			ours = append(ours, mf)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(body)
}
