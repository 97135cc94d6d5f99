package servercmd

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"ircish/ircish/cluster"
	"ircish/ircish/server"
)

// newRegistry returns the metrics that /metrics serves: the server's, the
// Go runtime's and the process's, and those of others, such as a
// cluster's engine.
func newRegistry(srv *server.Server, others ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(serverCollector{srv}, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(others...)
	return reg
}

// A serverCollector gives Prometheus a server's counters, as its Stats
// reads them at each scrape. The server counts with atomic adds of its
// own and knows nothing of Prometheus: the same counters serve
// /debug/vars, and its write path adds up the writes of a hand-out
// before it counts them once, where a Prometheus histogram would be
// observed per write, thousands of times, from several goroutines.
type serverCollector struct{ srv *server.Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("ircish_"+name, help, labels, nil)
}

var (
	connectionsDesc = desc("connections", "Client connections open, registered or not.")
	membersDesc     = desc("members", "Registered clients on this server.")
	linesInDesc     = desc("lines_received_total", "Lines read from clients, empty lines aside.")
	deliveredDesc   = desc("lines_delivered_total", "Room lines (MSG, JOINED, RENAMED, LEFT, WHISPER) queued for members, one per member that gets one; replies aside.")
	bytesOutDesc    = desc("sent_bytes_total", "Bytes written to clients, replies and all.")
	batchDesc       = desc("write_batch_bytes", "Bytes per write batch to a client: the room hands each member the lines of a moment at once.")
	floodDesc       = desc("flood_delays_total", "Lines that the flood limit delayed.")
	droppedDesc     = desc("clients_dropped_total", "Clients the server disconnected, by cause.", "cause")
	refusedDesc     = desc("connections_refused_total", "Connections refused by a limit, or at shutdown, by cause.", "cause")
	nickRefusedDesc = desc("registrations_refused_total", "First NICKs refused, by cause.", "cause")
	historyDesc     = desc("history_requests_total", "HISTORY commands, by kind: last n, AFTER a seq, LIVE.", "kind")
)

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connectionsDesc, membersDesc, linesInDesc, deliveredDesc, bytesOutDesc,
		batchDesc, floodDesc, droppedDesc, refusedDesc, nickRefusedDesc, historyDesc} {
		ch <- d
	}
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv.Stats()
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	counter := func(d *prometheus.Desc, v int64, label ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label...)
	}
	byLabel := func(d *prometheus.Desc, counts map[string]int64) {
		for label, v := range counts {
			counter(d, v, label)
		}
	}
	gauge(connectionsDesc, s.Connections)
	gauge(membersDesc, s.Members)
	counter(linesInDesc, s.LinesIn)
	counter(deliveredDesc, s.Deliveries)
	counter(bytesOutDesc, s.BytesOut)
	counter(floodDesc, s.FloodDelays)
	byLabel(droppedDesc, s.Dropped)
	byLabel(refusedDesc, s.Refused)
	byLabel(nickRefusedDesc, s.NickRefused)
	byLabel(historyDesc, s.History)
	buckets := make(map[float64]uint64, len(s.BatchSizes))
	for _, b := range s.BatchSizes {
		buckets[float64(b.Max)] = uint64(b.Count)
	}
	ch <- prometheus.MustNewConstHistogram(batchDesc, uint64(s.WriteBatches), float64(s.BytesOut), buckets)
}

// A clusterCollector gives Prometheus a cluster engine's counters, as its
// Stats reads them at each scrape.
type clusterCollector struct{ e *cluster.Engine }

var (
	publishedDesc = desc("cluster_records_published_total", "Records the cluster's stream took from this server.")
	retriesDesc   = desc("cluster_publish_retries_total", "NATS messages of records published again after a failure.")
	fencedDesc    = desc("cluster_fenced", "1 while this server is cut off from the cluster: its clients told to go, and new ones refused.")
	serversDesc   = desc("cluster_servers", "Servers of the cluster the stream tells of, this one included, lost ones aside.")
	appliedDesc   = desc("cluster_applied_seq", "The stream seq of the last message this server applied.")
	behindDesc    = desc("cluster_behind_messages", "How many stream seqs this server has yet to apply, up to its last lease.")
)

func (c clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{publishedDesc, retriesDesc, fencedDesc, serversDesc, appliedDesc, behindDesc} {
		ch <- d
	}
}

func (c clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.Stats()
	fenced := 0.0
	if s.Fenced {
		fenced = 1
	}
	ch <- prometheus.MustNewConstMetric(publishedDesc, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(retriesDesc, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(fencedDesc, prometheus.GaugeValue, fenced)
	ch <- prometheus.MustNewConstMetric(serversDesc, prometheus.GaugeValue, float64(s.Servers))
	ch <- prometheus.MustNewConstMetric(appliedDesc, prometheus.GaugeValue, float64(s.Applied))
	ch <- prometheus.MustNewConstMetric(behindDesc, prometheus.GaugeValue, float64(s.Behind))
}
