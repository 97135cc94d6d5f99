package cluster

// Stats are an engine's counters, for metrics.
type Stats struct {
	Published int64 // records the stream took from this server so far
	Retries   int64 // NATS messages of records published again after a failure, so far
	Fenced    bool  // cut off from the cluster: clients told to go, and refused
	Servers   int   // the servers of the cluster the stream tells of, this one included, lost ones aside
	Applied   int64 // the stream seq of the last message applied
	Behind    int64 // how far Applied is behind the stream seq of this server's last lease
}

// Stats returns the engine's counters. It is safe to call from any
// goroutine.
func (e *Engine) Stats() Stats {
	applied := e.lastApplied.Load()
	servers := 0
	e.readMu.Lock()
	if rd := e.reading; rd != nil {
		for _, n := range rd.nodes.By {
			if !n.Lost {
				servers++
			}
		}
	}
	e.readMu.Unlock()
	return Stats{
		Published: e.pub.published.Load(),
		Retries:   e.pub.retries.Load(),
		Fenced:    e.fenced.Load(),
		Servers:   servers,
		Applied:   applied,
		Behind:    max(0, e.leaseSeq.Load()-applied),
	}
}
