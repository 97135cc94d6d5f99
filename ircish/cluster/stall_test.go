package cluster

import (
	"context"
	"ircish/internal/chattest"
	"ircish/ircish/room"
	"ircish/ircish/server"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookLog is a slog handler that writes text to buf and, the first time it
// is handed a record whose message contains on, calls hook (in the
// goroutine that logs) before it returns.
type hookLog struct {
	buf  *chattest.LogBuffer
	text slog.Handler
	on   string
	hook func()
	once *sync.Once
}

func newHookLog(on string, hook func()) (*hookLog, *chattest.LogBuffer) {
	var buf chattest.LogBuffer
	return &hookLog{buf: &buf, text: slog.NewTextHandler(&buf, nil), on: on, hook: hook, once: new(sync.Once)}, &buf
}

func (h *hookLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *hookLog) Handle(ctx context.Context, r slog.Record) error {
	err := h.text.Handle(ctx, r)
	if h.on != "" && strings.Contains(r.Message, h.on) && h.hook != nil {
		h.once.Do(h.hook)
	}
	return err
}
func (h *hookLog) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.text = h.text.WithAttrs(as)
	return &c
}
func (h *hookLog) WithGroup(g string) slog.Handler {
	c := *h
	c.text = h.text.WithGroup(g)
	return &c
}

// publishBacklog stores n say records of a member nobody knows (no-ops
// when applied) in the stream, so that a reading of it takes a while.
func publishBacklog(t *testing.T, url string, n int) {
	t.Helper()
	js := jetStreamAt(t, url)
	data := appendRecord(nil, room.Record{Op: room.OpSay, ID: room.MemberID{Node: "feedfeedfeed", Num: 1}, Made: 1, Text: "backlog"})
	for i := range n {
		if _, err := js.PublishAsync(sayingsSubject, data); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			<-js.PublishAsyncComplete()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(chattest.WaitTimeout):
		t.Fatal("backlog not published")
	}
}

// A stall judged just as receive finds messages deleted unread leads to
// one reading afresh that ends, not to a reading orphaned by a second
// readAfresh (receive ignoring its records, readRoom never returning, the
// server fenced for good). The records found missing are forced through
// the logger, at the stall's WARN; the stall is a reader stopped.
func TestClusterStallRereadOrphansConcurrentReread(t *testing.T) {
	ns := startNATS(t, nil)
	var e *Engine
	h, log := newHookLog("reading the stream stalled", func() {
		// At this moment receive finds a jump (records deleted unread)...
		e.readMu.Lock()
		e.readAfresh()
		e.readMu.Unlock()
		// ...and the rereader starts reading the room afresh.
		deadline := time.Now().Add(chattest.WaitTimeout)
		for time.Now().Before(deadline) {
			e.readMu.Lock()
			busy := e.rereading.Load() && e.reading != nil && !e.reading.end
			e.readMu.Unlock()
			if busy {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	s1, s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}, &testServer{Server: &server.Server{FloodRate: -1, Keep: 3, Log: slog.New(h)}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	addr2 := joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"})
	e = s2.cluster
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr2, "bob")
	ann.Expect("^JOINED bob$")

	e.cons.Stop() // s2's reader stalls
	publishBacklog(t, ns.ClientURL(), 40000)
	ann.Send("MSG after the backlog")
	ann.Expect("^MSG ann after the backlog$")
	chattest.WaitFor(t, "the stream to take a lease of s2's after what it applied", func() bool {
		return e.leaseSeq.Load() > e.lastApplied.Load()
	})
	// The watch's own checkStall would judge after stallAfter; judge now.
	w := stallWatch{applied: e.lastApplied.Load(), behind: time.Now().Add(-stallAfter - time.Second)}
	e.checkStall(&w)
	bob.Expect("^BYE ")

	for start := time.Now(); e.fenced.Load() && time.Since(start) < 25*time.Second; {
		time.Sleep(100 * time.Millisecond)
	}
	if e.fenced.Load() {
		e.readMu.Lock()
		reading := e.reading
		e.readMu.Unlock()
		t.Fatalf("s2 still fenced 25 s after the stall: rereading %v, current reading nil %v, token queued %d, applied %d\n%s",
			e.rereading.Load(), reading == nil, len(e.missed), e.lastApplied.Load(), tail(log.String(), 12))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
