package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"ircish/internal/chattest"
	"ircish/internal/natstest"
	"ircish/ircish"
	"ircish/ircish/room"
	"ircish/ircish/server"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startCluster starts a NATS server and n ircish servers on it, and
// returns their addresses.
func startCluster(t *testing.T, n int) []string {
	t.Helper()
	ns := startNATS(t, nil)
	var addrs []string
	for i := range n {
		addrs = append(addrs, joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: fmt.Sprint("s", i+1)}))
	}
	return addrs
}

// startNATS starts a NATS server with JetStream, and the options set sets,
// until the test ends.
func startNATS(t *testing.T, set func(*natsserver.Options)) *natstest.Node {
	t.Helper()
	ns, err := natstest.StartWith(t.TempDir(), set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	return ns
}

// A testServer is a server of a cluster under test, and its engine.
type testServer struct {
	*server.Server
	cluster *Engine
}

// joinCluster has s join the cluster c, serves it until the test ends and
// returns its address. The engine logs to s's log.
func joinCluster(t *testing.T, s *testServer, c Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	c.Log = s.Log
	s.cluster = New(c)
	if err := s.UseEngine(ctx, s.cluster); err != nil {
		t.Fatalf("UseEngine: %v", err)
	}
	return chattest.Serve(t, s, chattest.Listen(t), server.ErrServerClosed)
}

// A testRoom is a room with no members: it applies records to its state,
// for tests of the engine alone.
type testRoom struct {
	mu     sync.Mutex
	state  *room.State
	closed chan struct{}
}

func newTestRoom(keep int) *testRoom {
	return &testRoom{state: room.NewState(keep, 0), closed: make(chan struct{})}
}

func (r *testRoom) Apply(recs []room.Record, evs []room.Event) []room.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		evs = append(evs, r.state.Apply(rec))
	}
	return evs
}

func (r *testRoom) Reset(s *room.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = s
}

func (r *testRoom) Read(f func(*room.State)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r.state)
}

func (r *testRoom) StopWaiting()                      {}
func (r *testRoom) Refuse(room.Record, *ircish.Error) {}
func (r *testRoom) Fence(bool)                        {}
func (r *testRoom) Members() int                      { return 0 }
func (r *testRoom) Closed() <-chan struct{}           { return r.closed }

// peopleIn returns how many are in r.
func peopleIn(r room.Room) int {
	n := 0
	r.Read(func(s *room.State) { n = len(s.People()) })
	return n
}

// Every client on every server sees the room's lines in one order, its own
// messages included, while 21 clients on three servers talk at once.
func TestClusterTotalOrder(t *testing.T) {
	addrs := startCluster(t, 3)
	const senders, lines = 21, 20
	var cs []*chattest.Conn
	for i := range senders {
		cs = append(cs, chattest.Register(t, addrs[i%3], fmt.Sprint("c", i)))
	}
	for _, c := range cs[:senders-1] { // the room is whole
		c.Expect(fmt.Sprintf("^JOINED c%d$", senders-1))
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			for j := range lines {
				c.Send(fmt.Sprintf("MSG %d-%d", i, j))
			}
			c.Send("MSG done")
		})
	}
	wg.Wait()
	var want []string
	for i, c := range cs {
		for range senders {
			c.Expect("^MSG c[0-9]+ done$")
		}
		got := slices.DeleteFunc(slices.Clone(c.Seen), func(l string) bool { return !strings.HasPrefix(l, "MSG ") })
		if i == 0 {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("c%d saw another order than c0:\n%s\nc0 saw:\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if len(want) != senders*(lines+1) {
		t.Fatalf("c0 saw %d messages, want %d", len(want), senders*(lines+1))
	}
	// Each sender's lines come in the order it sent them.
	next := make(map[string]int)
	for _, line := range want {
		var from string
		var i, j int
		if _, err := fmt.Sscanf(line, "MSG %s %d-%d", &from, &i, &j); err != nil {
			continue // "done"
		}
		if j != next[from] {
			t.Fatalf("c0 saw %q after line %d of %s", line, next[from]-1, from)
		}
		next[from]++
	}
}

// Two clients on two servers ask for one nick at once: one gets it, the
// other NICK_IN_USE, every time.
func TestClusterNickRace(t *testing.T) {
	addrs := startCluster(t, 2)
	for round := range 20 {
		nick := fmt.Sprint("race", round)
		a, b := chattest.Dial(t, addrs[0], "a"), chattest.Dial(t, addrs[1], "b")
		a.Expect("^WELCOME ")
		b.Expect("^WELCOME ")
		a.Send("NICK " + nick)
		b.Send("NICK " + strings.ToUpper(nick))
		pattern := "^(JOINED (?i:" + nick + ")|ERR NICK_IN_USE .*)$"
		ra, rb := a.Expect(pattern), b.Expect(pattern)
		if strings.HasPrefix(ra, "JOINED") == strings.HasPrefix(rb, "JOINED") {
			t.Fatalf("round %d: a got %q, b got %q; want one JOINED and one NICK_IN_USE", round, ra, rb)
		}
		a.NetConn.Close()
		b.NetConn.Close()
	}
}

// WHISPER reaches a user on another server, NO_SUCH_USER is decided alike
// everywhere, and LIST lists everyone on every server, in its order.
func TestClusterWhisperAndList(t *testing.T) {
	addrs := startCluster(t, 2)
	ann := chattest.Register(t, addrs[0], "ann")
	bob := chattest.Register(t, addrs[1], "Bob")
	ann.Expect("^JOINED Bob$")
	ann.Send("WHISPER bob psst")
	bob.Expect("^WHISPER ann Bob psst$")
	ann.Expect("^WHISPER ann Bob psst$")
	for _, c := range []*chattest.Conn{ann, bob} {
		c.Send("WHISPER nobody hi")
		c.Expect("^ERR NO_SUCH_USER ")
		c.Send("LIST")
		if got := c.Expect("^LIST "); got != "LIST ann Bob" {
			t.Errorf("%s: %q, want %q", c.Name, got, "LIST ann Bob")
		}
	}
	// A reply comes after the asker's own messages: PING is a barrier.
	bob.Send("MSG one")
	if got := strings.Join(bob.Barrier(), "|"); !regexp.MustCompile(`^MSG Bob one$`).MatchString(got) {
		t.Errorf("before PONG, Bob saw %q, want its MSG", got)
	}
	// A rename is seen everywhere, and frees the old nick.
	bob.Send("NICK bert")
	ann.Expect("^RENAMED Bob bert$")
	carl := chattest.Register(t, addrs[0], "bob")
	carl.Send("LIST")
	if got := carl.Expect("^LIST "); got != "LIST ann bert bob" {
		t.Errorf("LIST = %q, want %q", got, "LIST ann bert bob")
	}
}

// Compaction keeps what a server needs to read the room as it is: a
// snapshot of it, holding the last -history messages, and the messages
// after it. A server started after it sees the same room and history.
func TestClusterCompaction(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr1, "bob")
	bob.Send("MSG bye")
	ann.Expect("^MSG bob bye$")
	bob.Send("QUIT")
	ann.Expect("^LEFT bob$")
	var first string // MSG 0's seq
	for i := range 5 {
		ann.Send(fmt.Sprint("MSG ", i))
		ann.Expect(fmt.Sprintf("^MSG ann %d$", i))
		if i == 0 {
			first = strings.Fields(ann.AskHistory("1")[0])[1]
		}
	}
	want := ann.AskHistory("")

	compactNow(t, s1)
	if got := recordSubjects(t, s1); got != "" {
		t.Errorf("after compaction the stream holds records %s, want none: the snapshot holds them", got)
	}

	cid := registerLater(t, ns.ClientURL(), 3, "LIST ann cid", want)
	// Asked for what followed a message no longer kept, both say that
	// some are gone.
	before, after := ann.AskHistory("AFTER "+first), cid.AskHistory("AFTER "+first)
	if !strings.HasPrefix(before[0], "HISTORY GAP ") || !slices.Equal(before, after) {
		t.Errorf("HISTORY AFTER %s: on the first server %q, on the one started after compaction %q; want the same, with a GAP", first, before, after)
	}
}

// A rename refused because another held the nick stays refused once
// compaction has deleted it and the holder has left: a server started
// afterwards lists the same room, and names the one who was refused as
// the first server does.
func TestClusterCompactionKeepsRefusedRename(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 2}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	obs := chattest.Register(t, addr1, "obs")
	bob := chattest.Register(t, addr1, "bob")
	zed := chattest.Register(t, addr1, "zed")
	zed.Send("NICK bob")
	zed.Expect("^ERR NICK_IN_USE ")
	bob.Send("QUIT")
	obs.Expect("^LEFT bob$")
	for i := range 3 {
		obs.Send(fmt.Sprint("MSG ", i))
		obs.Expect(fmt.Sprintf("^MSG obs %d$", i))
	}
	compactNow(t, s1)
	obs.Send("MSG again")
	obs.Expect("^MSG obs again$")
	compactNow(t, s1)

	s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 2}}
	cid := chattest.Register(t, joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"}), "cid")
	obs.Expect("^JOINED cid$") // the first server has read cid's join too
	for _, c := range []*chattest.Conn{obs, cid} {
		c.Send("LIST")
		if got := c.Expect("^LIST "); got != "LIST cid obs zed" {
			t.Errorf("%s: %q, want %q", c.Name, got, "LIST cid obs zed")
		}
	}
	zed.Send("MSG still zed")
	obs.Expect("^MSG zed still zed$")
	cid.Expect("^MSG zed still zed$")
}

// compactNow has s compact the stream now, as its compactor does.
func compactNow(t *testing.T, s *testServer) {
	t.Helper()
	snap, keep := s.cluster.snapshotNow()
	if snap == nil {
		t.Fatalf("%s has no snapshot to give", s.cluster.cfg.Name)
	}
	s.cluster.compact(snap, keep)
}

// recordSubjects returns the subjects of the records in the cluster's
// stream (not its leases and snapshots), with how many messages each
// holds: "subject=n", sorted, space-separated.
func recordSubjects(t *testing.T, s *testServer) string {
	t.Helper()
	var records []string
	for _, sc := range strings.Fields(subjectCounts(t, s)) {
		if !strings.HasPrefix(sc, leaseSubject+"=") && !strings.HasPrefix(sc, snapSubject+"=") && !strings.HasPrefix(sc, snapPartSubject+"=") {
			records = append(records, sc)
		}
	}
	return strings.Join(records, " ")
}

// subjectCounts returns the subjects of the cluster's stream, with how
// many messages each holds: "subject=n", sorted, space-separated.
func subjectCounts(t *testing.T, s *testServer) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	info, err := s.cluster.stream.Info(ctx, jetstream.WithSubjectFilter("ircish.>"))
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for subject, n := range info.State.Subjects {
		subjects = append(subjects, fmt.Sprint(subject, "=", n))
	}
	slices.Sort(subjects)
	return strings.Join(subjects, " ")
}

// A server cuts its batches of messages to what its NATS server takes:
// with a max_payload of 64 KiB, a burst of long lines, which would make a
// larger batch, all reaches the room, in order.
func TestClusterBatchesWithinMaxPayload(t *testing.T) {
	ns := startNATS(t, func(o *natsserver.Options) { o.MaxPayload = 64 << 10 })
	c := chattest.Register(t, joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s1"}), "ann")
	const n = 1000
	text := strings.Repeat("x", 400)
	var burst []string
	for i := range n {
		burst = append(burst, fmt.Sprintf("MSG %d %s", i, text))
	}
	c.Send(strings.Join(burst, "\n"))
	for i := range n {
		c.Expect(fmt.Sprintf("^MSG ann %d x+$", i))
	}
}

// Clients whose lines fill the publisher's queue while NATS is gone still
// get their BYE when the server fences itself: their wait for room in the
// queue ends with the fence.
func TestClusterFenceEndsWaitForQueue(t *testing.T) {
	ns := startNATS(t, nil)
	addr := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	var cs []*chattest.Conn
	for i := range 4 {
		cs = append(cs, chattest.Register(t, addr, fmt.Sprint("c", i)))
	}
	ns.Stop()
	var burst []string
	for i := range (maxQueued+maxBatch)/len(cs) + 100 {
		burst = append(burst, fmt.Sprint("MSG ", i))
	}
	for _, c := range cs {
		// Not c.send: the write may still be under way, and fail, when
		// the server closes the connection.
		go io.WriteString(c.NetConn, strings.Join(burst, "\n")+"\n")
	}
	for _, c := range cs {
		c.Expect("^BYE this server is cut off from its cluster: connect to another$")
	}
}

// A message's records read back as they were written, and a message that
// ends badly yields the records before the fault, then an error.
func TestRecords(t *testing.T) {
	recs := []room.Record{
		{Op: room.OpJoin, ID: room.MemberID{Node: "a1b2", Num: 7}, Made: 1, Nick: "alice"},
		{Op: room.OpRename, ID: room.MemberID{Node: "a1b2", Num: 7}, Made: 2, Nick: "Alice"},
		{Op: room.OpSay, ID: room.MemberID{Node: "a1b2", Num: 7}, Made: 3, Text: "hello, world"},
		{Op: room.OpSay, ID: room.MemberID{Node: "c3d4", Num: 9}, Made: 12, Text: ""},
		{Op: room.OpWhisper, ID: room.MemberID{Node: "c3d4", Num: 9}, Made: 13, Nick: "Alice", Text: "psst"},
		{Op: room.OpLeave, ID: room.MemberID{Node: "a1b2", Num: 7}, Text: "server lost"},
		{Op: room.OpJoin, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 1, Nick: "ann", Addr: "2001:db8::1", Text: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"},
		{Op: room.OpRegister, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 2, Text: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"},
		{Op: room.OpPassword, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 3, Text: "$argon2id$a $argon2id$b"},
		{Op: room.OpUnregister, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 4, Text: "$argon2id$b"},
		{Op: room.OpKick, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 5, Nick: "bob", Text: "spam, spam"},
		{Op: room.OpBan, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 6, Nick: "10.0.0.0/8", Text: "0 forever"},
		{Op: room.OpUnban, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 7, Nick: "10.0.0.0/8"},
		{Op: room.OpMute, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 8, Nick: "cy", Text: "1796000000 calm down"},
		{Op: room.OpUnmute, ID: room.MemberID{Node: "c3d4", Num: 10}, Made: 9, Nick: "cy"},
	}
	var msg []byte
	for _, rec := range recs {
		msg = appendRecord(msg, rec)
	}
	var got []room.Record
	for rec, err := range records(msg) {
		if err != nil {
			t.Fatalf("records(%q): %v", msg, err)
		}
		got = append(got, rec)
	}
	if !slices.Equal(got, recs) {
		t.Errorf("records(%q) = %v, want %v", msg, got, recs)
	}

	// Reading stops when the loop does, and costs one allocation, however
	// many records there are.
	for range records(msg) {
		break
	}
	if n := testing.AllocsPerRun(100, func() {
		for range records(msg) {
		}
	}); n != 1 {
		t.Errorf("records of %d records: %v allocations, want 1", len(recs), n)
	}

	good := "SAY a1b2 7 3\nhi\n"
	for _, bad := range []string{
		"SAY a1b2 7 3\nno end",
		"SAY a1b2 7 3",
		"SHOUT a1b2 7 3\nhi\n",
		"SAY a1b2 x 3\nhi\n",
		"SAY a1b2 7 -3\nhi\n",
		"SAY  7 3\nhi\n",
		"JOIN a1b2 7 1 two words\n\n",
		"SAY a1b2 7\nhi\n",
	} {
		in := good + bad
		if strings.HasSuffix(bad, "\n") {
			in += good // not to be read
		}
		var errs []error
		for _, err := range records([]byte(in)) {
			errs = append(errs, err)
		}
		if len(errs) != 2 || errs[0] != nil || errs[1] == nil {
			t.Errorf("records(%q) yielded errors %v; want a record, then an error, and nothing more", in, errs)
		}
	}
}

// Compaction deletes nothing a server in the cluster has yet to read: a
// server cut off from NATS for less than it takes to fence itself still
// finds, once back, the messages said and the user who left meanwhile,
// though the server that compacted had no more use for them.
func TestClusterCompactionWaitsForLaggingServer(t *testing.T) {
	s1, s2, addr1, addr2, proxy := cuttablePair(t, nil)
	ann := chattest.Register(t, addr1, "ann")
	xena := chattest.Register(t, addr1, "xena")
	bob := chattest.Register(t, addr2, "bob")
	xena.Expect("^JOINED bob$")
	waitReached(t, s1, s2)

	proxy.cut()
	xena.Send("QUIT")
	ann.Expect("^LEFT xena$")
	for i := range 5 {
		ann.Send(fmt.Sprint("MSG ", i))
		ann.Expect(fmt.Sprintf("^MSG ann %d$", i))
	}
	compactNow(t, s1)
	proxy.mend()

	bob.Expect("^LEFT xena$")
	for i := range 5 {
		bob.Expect(fmt.Sprintf("^MSG ann %d$", i))
	}
	bob.Send("LIST")
	if got := bob.Expect("^LIST "); got != "LIST ann bob" {
		t.Errorf("on s2, LIST = %q, want %q", got, "LIST ann bob")
	}
}

// cuttablePair starts a NATS server and two servers on it that keep 3
// messages, s1 and s2, and returns them, their addresses and the proxy
// through which s2 reaches NATS, which the test may cut. s2 logs to log.
func cuttablePair(t *testing.T, log *slog.Logger) (s1, s2 *testServer, addr1, addr2 string, proxy *cutProxy) {
	t.Helper()
	ns := startNATS(t, nil)
	proxy = newCutProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	s1, s2 = &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}, &testServer{Server: &server.Server{FloodRate: -1, Keep: 3, Log: log}}
	addr1 = joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	addr2 = joinCluster(t, s2, Config{URLs: proxy.url(), Name: "s2"})
	return s1, s2, addr1, addr2, proxy
}

// A cutProxy passes TCP connections on to a NATS server, until cut closes
// them all and refuses new ones, until mend.
type cutProxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	isCut bool
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target}
	t.Cleanup(func() {
		l.Close()
		p.cut()
	})
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		u, err := net.Dial("tcp", p.target)
		if p.isCut || err != nil {
			c.Close()
			p.mu.Unlock()
			continue
		}
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

func (p *cutProxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) mend() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isCut = false
}

// A line too long for the NATS's max_payload, which no NATS message can
// carry, is refused, and those after it go on; a leave whose reason is
// too long goes with the reason cut.
func TestClusterRefusesLineOverMaxPayload(t *testing.T) {
	ns := startNATS(t, func(o *natsserver.Options) { o.MaxPayload = 2048 })
	addr := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	long := strings.Repeat("é", 1500) // 3,000 bytes, within -max-line
	ann.Send("MSG " + long)
	ann.Expect("^ERR LINE_TOO_LONG the cluster's NATS takes messages of at most 2048 bytes: this one was dropped$")
	ann.Send("MSG after")
	bob.Expect("^MSG ann after$")
	ann.Send("QUIT " + long)
	left := bob.Expect("^LEFT ann ")
	if reason := strings.TrimPrefix(left, "LEFT ann "); !strings.HasPrefix(long, reason) || len(reason) < 500 || !utf8.ValidString(reason) {
		t.Errorf("bob saw %q, want LEFT ann and the start of the reason, cut between runes", left)
	}
}

// With a NATS max_payload as small as 1 KiB, records still fit: users
// join and talk.
func TestClusterSmallMaxPayload(t *testing.T) {
	ns := startNATS(t, func(o *natsserver.Options) { o.MaxPayload = 1024 })
	addr := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr, "ann")
	ann.Send("MSG " + strings.Repeat("x", 700))
	ann.Expect("^MSG ann x{700}$")
}

// A server cut off for longer than lostAfter, meanwhile not counted by
// compaction, comes back to a stream without records it had yet to
// apply: a leave, and messages. It reads the room afresh before it
// serves again, so that its room is the others': no ghost user, and the
// same history.
func TestClusterRereadsRoomAfterRecordsDeleted(t *testing.T) {
	s1, _, addr1, addr2, proxy := cuttablePair(t, nil)
	ann := chattest.Register(t, addr1, "ann")
	xena := chattest.Register(t, addr1, "xena")
	chattest.Register(t, addr2, "bob")
	xena.Expect("^JOINED bob$")

	proxy.cut()
	ann.Expect("^LEFT bob server lost$") // s1 no longer counts s2
	xena.Send("QUIT")
	ann.Expect("^LEFT xena$")
	for i := range 5 {
		ann.Send(fmt.Sprint("MSG ", i))
		ann.Expect(fmt.Sprintf("^MSG ann %d$", i))
	}
	compactNow(t, s1)
	if got := recordSubjects(t, s1); got != "" {
		t.Fatalf("compaction kept records: the stream holds %s", got)
	}
	proxy.mend()

	cid := registerWhenServing(t, addr2, "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST ann cid" {
		t.Errorf("on s2, back after records it had not read were deleted, %q; want %q", got, "LIST ann cid")
	}
	if got, want := cid.AskHistory(""), ann.AskHistory(""); !slices.Equal(got, want) {
		t.Errorf("HISTORY on s2:\n%s\nwant, as on s1:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// In a room where nobody has spoken, compaction deletes the records of a
// user who left, the stream's last ones. A server started after that
// missed nothing: it reads from the snapshot, serves its first client at
// once, and does not read the room again.
func TestClusterNoRereadAfterLastRecordsDeleted(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr1, "ann")
	xena := chattest.Register(t, addr1, "xena")
	xena.Send("QUIT")
	ann.Expect("^LEFT xena$")
	compactNow(t, s1)
	var log chattest.LogBuffer
	s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3, Log: log.Logger()}}
	cid := chattest.Register(t, joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"}), "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST ann cid" {
		t.Errorf("on s2, %q; want %q", got, "LIST ann cid")
	}
	if l := log.String(); strings.Contains(l, "reading the room afresh") {
		t.Errorf("s2, which missed nothing, read the room afresh:\n%s", l)
	}
}

// fakeMsg is a stream message as a consumer delivers it: a record of its
// member's subject, or a message on subject; from node, numbered count, if
// node is set.
type fakeMsg struct {
	jetstream.Msg
	seq, pending uint64
	data         []byte
	subject      string
	node         string
	count        uint64
	at           time.Time
}

func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Consumer: m.seq, Stream: m.seq}, NumPending: m.pending, Timestamp: m.at}, nil
}

func (m fakeMsg) Data() []byte { return m.data }

func (m fakeMsg) Subject() string { return cmp.Or(m.subject, "ircish.m.n1.1") }

func (m fakeMsg) Headers() nats.Header {
	if m.node == "" {
		return nil
	}
	return nats.Header{jetstream.MsgIDHeader: {fmt.Sprint(m.node, ".", m.count)}}
}

// A starting server that finds a seq jump in the messages after its
// snapshot (compaction stored a newer one and deleted them while it read
// them) does not take the reading for whole: it might keep xena, whose
// leave was deleted.
func TestClusterStartingServerNoticesRecordsDeletedAfterItBegan(t *testing.T) {
	e := &Engine{room: newTestRoom(10), log: slog.New(slog.DiscardHandler), missed: make(chan struct{}, 1)}
	rd := &reading{state: room.NewState(10, 0), nodes: newNodes(), ready: make(chan struct{})}
	e.reading = rd
	ann, xena, bob := room.MemberID{Node: "n1", Num: 1}, room.MemberID{Node: "n1", Num: 2}, room.MemberID{Node: "n1", Num: 3}
	e.receive(rd, fakeMsg{seq: 1, pending: 2, data: appendRecord(nil, room.Record{Op: room.OpJoin, ID: ann, Made: 1, Nick: "ann"})})
	e.receive(rd, fakeMsg{seq: 2, pending: 1, data: appendRecord(nil, room.Record{Op: room.OpJoin, ID: xena, Made: 1, Nick: "xena"})})
	// seq 3, xena's leave, deleted
	e.receive(rd, fakeMsg{seq: 4, pending: 0, data: appendRecord(nil, room.Record{Op: room.OpJoin, ID: bob, Made: 1, Nick: "bob"})})
	if !rd.end || rd.whole || e.reading != nil {
		t.Errorf("after a jump from seq 2 to 4: reading ended %t, whole %t, still read %t; want ended, not whole, not read",
			rd.end, rd.whole, e.reading == rd)
	}
}

// registerWhenServing registers as nick once the server at addr, fenced,
// serves again.
func registerWhenServing(t *testing.T, addr, nick string) *chattest.Conn {
	t.Helper()
	next := func(c *chattest.Conn) string { // "" once closed, or after chattest.WaitTimeout
		select {
		case line := <-c.Lines:
			return line
		case <-time.After(chattest.WaitTimeout):
			return ""
		}
	}
	var joined *chattest.Conn
	chattest.WaitFor(t, "the server to serve again", func() bool {
		c := chattest.Dial(t, addr, nick)
		if !strings.HasPrefix(next(c), "WELCOME ") {
			c.NetConn.Close()
			return false
		}
		c.Send("NICK " + nick)
		if line := next(c); line != "JOINED "+nick {
			c.NetConn.Close()
			return false
		}
		joined = c
		return true
	})
	return joined
}

// A server cut off for longer than lostAfter comes back to a stream whose
// last records, which it had yet to apply, were deleted: no later record
// shows a jump in seqs. It finds them missing before it serves again.
func TestClusterRereadsRoomAfterLastRecordsDeleted(t *testing.T) {
	var log chattest.LogBuffer
	s1, s2, addr1, addr2, proxy := cuttablePair(t, log.Logger())
	ann := chattest.Register(t, addr1, "ann")
	xena := chattest.Register(t, addr1, "xena")
	chattest.WaitFor(t, "s2 to apply xena's join", func() bool { return s2.cluster.lastApplied.Load() == s1.cluster.lastApplied.Load() })

	proxy.cut()
	waitLost(t, s1, s2)
	xena.Send("QUIT")
	ann.Expect("^LEFT xena$")
	compactNow(t, s1)
	proxy.mend()

	cid := registerWhenServing(t, addr2, "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST ann cid" {
		t.Errorf("on s2, back after the last records were deleted, %q; want %q", got, "LIST ann cid")
	}
	l := log.String()
	if found, back := strings.Index(l, "reading the room afresh"), strings.Index(l, "back in the cluster"); found < 0 || back < found {
		t.Errorf("s2 served again before it found the records missing:\n%s", l)
	}
}

// A server cut off while compaction empties the stream (users joined and
// left, nobody spoke) serves again once back, the room empty: its
// consumer, made again, has nothing to deliver, and says so in a way that
// must not pass for records on their way.
func TestClusterServesAgainAfterStreamEmptied(t *testing.T) {
	s1, s2, addr1, addr2, proxy := cuttablePair(t, nil)
	ann := chattest.Register(t, addr1, "ann")
	xena := chattest.Register(t, addr1, "xena")
	chattest.WaitFor(t, "s2 to apply xena's join", func() bool { return s2.cluster.lastApplied.Load() == s1.cluster.lastApplied.Load() })

	proxy.cut()
	waitLost(t, s1, s2)
	xena.Send("QUIT")
	ann.Expect("^LEFT xena$")
	ann.Send("QUIT")
	ann.Closed()
	chattest.WaitFor(t, "s1 to apply ann's leave", func() bool {
		return peopleIn(s1.cluster.room) == 0
	})
	compactNow(t, s1)
	if got := recordSubjects(t, s1); got != "" {
		t.Fatalf("after compaction the stream holds records %s, want none", got)
	}
	proxy.mend()

	cid := registerWhenServing(t, addr2, "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST cid" {
		t.Errorf("on s2, %q; want %q", got, "LIST cid")
	}
}

// waitLost waits until s has had the users of other, cut off from it,
// leave: the stream took s's leases for lostAfter without other's.
func waitLost(t *testing.T, s, other *testServer) {
	t.Helper()
	chattest.WaitFor(t, s.cluster.cfg.Name+" to count "+other.cluster.cfg.Name+" lost", func() bool {
		n := nodeOf(s, other)
		return n != nil && n.Lost
	})
}

// waitReached waits until s has applied a lease of other saying that it
// has applied all that s had as it began to wait.
func waitReached(t *testing.T, s, other *testServer) {
	t.Helper()
	applied := s.cluster.lastApplied.Load()
	chattest.WaitFor(t, fmt.Sprintf("%s to hear %s has applied %d", s.cluster.cfg.Name, other.cluster.cfg.Name, applied), func() bool {
		n := nodeOf(s, other)
		return n != nil && n.Reached >= applied
	})
}

// nodeOf returns a copy of other as s's fold has it, or nil.
func nodeOf(s, other *testServer) *node {
	e := s.cluster
	e.readMu.Lock()
	defer e.readMu.Unlock()
	if e.reading == nil || e.reading.nodes.By[other.cluster.id] == nil {
		return nil
	}
	n := *e.reading.nodes.By[other.cluster.id]
	return &n
}

// A fenced server, back on NATS, whose consumer cannot be made again (the
// stream takes no more consumers) goes on sending heartbeats, and shuts
// down within its grace.
func TestClusterHeartbeatsGoOnWhileConsumerIsRemade(t *testing.T) {
	ns := startNATS(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	check(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	check(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: streamName, Subjects: []string{sayingsSubject, memberSubjects},
		Storage: jetstream.FileStorage, Replicas: 1, MaxConsumers: 2})
	check(t, err)
	proxy := newCutProxy(t, strings.TrimPrefix(ns.ClientURL(), "nats://"))
	var log chattest.LogBuffer
	s1, s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}, &testServer{Server: &server.Server{FloodRate: -1, Keep: 3, Log: log.Logger()}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	joinCluster(t, s2, Config{URLs: proxy.url(), Name: "s2"})
	ann := chattest.Register(t, addr1, "ann")
	chattest.WaitFor(t, "s2 to apply ann's join", func() bool { return s2.cluster.lastApplied.Load() == s1.cluster.lastApplied.Load() })
	var mu sync.Mutex
	var beats []time.Time
	sub, err := nc.Subscribe(aliveSubject, func(msg *nats.Msg) {
		if strings.HasPrefix(string(msg.Data), s2.cluster.id+" ") {
			mu.Lock()
			beats = append(beats, time.Now())
			mu.Unlock()
		}
	})
	check(t, err)
	defer sub.Unsubscribe()

	proxy.cut()
	chattest.WaitFor(t, "s2 to fence itself", s2.cluster.fenced.Load)
	stream, err := js.Stream(ctx, streamName)
	check(t, err)
	consumers := stream.ListConsumers(ctx)
	for info := range consumers.Info() { // s2's goes while it is away; s1 makes its own again
		check(t, stream.DeleteConsumer(ctx, info.Name))
	}
	check(t, consumers.Err())
	_, err = js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{Durable: "blocker"})
	check(t, err)
	ann.Send("MSG while s2 is away")
	ann.Expect("^MSG ann while s2 is away$")
	proxy.mend()
	chattest.WaitFor(t, "s2 to reconnect", func() bool { return strings.Contains(log.String(), "nats reconnected") })
	back := time.Now()
	time.Sleep(6 * time.Second)
	mu.Lock()
	last, gap := back, time.Duration(0)
	for _, b := range beats {
		if b.After(back) {
			gap, last = max(gap, b.Sub(last)), b
		}
	}
	gap = max(gap, time.Since(last))
	mu.Unlock()
	if gap > 2*time.Second {
		t.Errorf("s2, back on NATS, sent no heartbeat for %v (others count it lost after %v)", gap.Round(time.Millisecond), lostAfter)
	}
	shut := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s2.Shutdown(ctx)
		close(shut)
	}()
	select {
	case <-shut:
	case <-time.After(8 * time.Second):
		t.Errorf("s2's Shutdown, with a grace of 2 s, had not returned after 8 s")
	}
}

// A server whose reader of the stream can no longer be made again (the
// stream takes no more consumers) while it still hears NATS reads the
// room afresh once its reader has applied nothing for stallAfter while
// the others went on: its clients are told to go, and it serves again,
// the room as the others have it, once it has a reader again.
func TestClusterReadsRoomAfreshWhenItsReaderStalls(t *testing.T) {
	ns := startNATS(t, nil)
	nc, err := nats.Connect(ns.ClientURL())
	check(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	check(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: streamName, Subjects: []string{sayingsSubject, memberSubjects},
		Storage: jetstream.FileStorage, Replicas: 1, MaxConsumers: 2})
	check(t, err)
	var log chattest.LogBuffer
	s1, s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 3}}, &testServer{Server: &server.Server{FloodRate: -1, Keep: 3, Log: log.Logger()}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	addr2 := joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"})
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr2, "bob")
	ann.Expect("^JOINED bob$")

	// Delete s2's consumer, the newest (s2 joined last), and take its place
	// before s2 makes it again: it does at once, and then after 1 s.
	chattest.WaitFor(t, "a consumer in place of s2's", func() bool {
		var newest *jetstream.ConsumerInfo
		consumers := stream.ListConsumers(ctx)
		for info := range consumers.Info() {
			if newest == nil || info.Created.After(newest.Created) {
				newest = info
			}
		}
		check(t, consumers.Err())
		check(t, stream.DeleteConsumer(ctx, newest.Name))
		_, err := js.CreateOrUpdateConsumer(ctx, streamName, jetstream.ConsumerConfig{Durable: "blocker"})
		if errors.Is(err, jetstream.ErrMaximumConsumersLimit) {
			return false
		}
		check(t, err)
		return true
	})
	ann.Send("MSG while s2 reads nothing")
	ann.Expect("^MSG ann while s2 reads nothing$")

	const stalled = "reading the stream stalled"
	for start := time.Now(); !strings.Contains(log.String(), stalled); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > stallAfter+chattest.WaitTimeout {
			t.Fatalf("s2, its reader gone, had not logged %q after %v:\n%s", stalled, time.Since(start).Round(time.Second), log.String())
		}
	}
	bob.Expect("^BYE this server is cut off from its cluster: connect to another$")

	check(t, stream.DeleteConsumer(ctx, "blocker"))
	cid := registerWhenServing(t, addr2, "cid")
	if got, want := cid.AskHistory(""), ann.AskHistory(""); !slices.Equal(got, want) {
		t.Errorf("HISTORY on s2, read afresh:\n%s\nwant, as on s1:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != "LIST ann cid" {
		t.Errorf("on s2, read afresh, %q; want %q", got, "LIST ann cid")
	}
}

// A reader is stalled only once it has been behind for stallAfter without
// applying anything: not while it applies, however far behind, nor while
// it has applied all the stream holds.
func TestStallWatch(t *testing.T) {
	var w stallWatch
	t0 := time.Now()
	steps := []struct {
		applied, known int64
		at             time.Duration
		want           bool
	}{
		{5, 5, 0, false},
		{5, 5, 2 * stallAfter, false},                               // idle room, all applied
		{5, 9, 2*stallAfter + time.Second, false},                   // behind from now on
		{6, 9, 3*stallAfter + time.Second, false},                   // slow, but applying
		{6, 9, 3*stallAfter + 2*time.Second, false},                 // behind, unchanged, from now on
		{6, 9, 4*stallAfter + time.Second, false},                   // not quite stallAfter
		{6, 12, 4*stallAfter + 2*time.Second, true},                 // stalled
		{12, 12, 4*stallAfter + 3*time.Second, false},               // caught up
		{12, 13, 5*stallAfter + 3*time.Second + time.Second, false}, // behind from now on
	}
	for _, s := range steps {
		if got := w.stalled(s.applied, s.known, t0.Add(s.at)); got != s.want {
			t.Errorf("applied %d, stream holding %d, at %v: stalled %v, want %v", s.applied, s.known, s.at, got, s.want)
		}
	}
}

// A stream deleted and created again under a running server is a new
// room: the server notices within seconds, tells its clients to go, and
// serves the new room once it has read it. A client that asks for what
// followed its last message of the old room is told GAP.
func TestClusterStreamCreatedAgain(t *testing.T) {
	ns := startNATS(t, nil)
	var log chattest.LogBuffer
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 10, Log: log.Logger()}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr1, "ann")
	for i := range 20 {
		ann.Send(fmt.Sprint("MSG ", i))
		ann.Expect(fmt.Sprintf("^MSG ann %d$", i))
	}
	last := strings.Fields(ann.AskHistory("1")[0])[1]

	deleted := deleteStream(t, ns.ClientURL())
	s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 10}}
	cid := chattest.Register(t, joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"}), "cid")
	cid.Send("MSG in the new room")
	cid.Expect("^MSG cid in the new room$")

	expectToldToGo(t, ann, deleted)
	dee := registerWhenServing(t, addr1, "dee")
	dee.Send("LIST")
	if got := dee.Expect("^LIST "); got != "LIST cid dee" {
		t.Errorf("on s1, in the new room, %q; want %q", got, "LIST cid dee")
	}
	if got := dee.AskHistory("AFTER " + last); len(got) != 2 || !strings.HasPrefix(got[0], "HISTORY GAP ") || !strings.HasSuffix(got[1], " cid in the new room") {
		t.Errorf("HISTORY AFTER %s, the last seq of the old room: %q; want a GAP, then cid's line", last, got)
	}
	if l := log.String(); !strings.Contains(l, "reading the room afresh") {
		t.Errorf("s1 did not log that it read the room afresh:\n%s", l)
	}
}

// A stream deleted under a lone server: the server notices within
// seconds, tells its clients to go, creates the stream again and serves
// the new, empty room.
func TestClusterStreamDeleted(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 10}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr1, "ann")
	expectToldToGo(t, ann, deleteStream(t, ns.ClientURL()))
	bob := registerWhenServing(t, addr1, "bob")
	bob.Send("LIST")
	if got := bob.Expect("^LIST "); got != "LIST bob" {
		t.Errorf("in the new room, %q; want %q", got, "LIST bob")
	}
}

// deleteStream deletes the cluster's stream, as an operator may, and
// returns when.
func deleteStream(t *testing.T, url string) time.Time {
	t.Helper()
	js := jetStreamAt(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	check(t, js.DeleteStream(ctx, streamName))
	return time.Now()
}

// jetStreamAt returns a JetStream on a connection of the test's own to the
// NATS at url, closed when the test ends.
func jetStreamAt(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	check(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	check(t, err)
	return js
}

// expectToldToGo waits for c to be told its server is cut off, within 15 s
// of deleted, when the stream was deleted.
func expectToldToGo(t *testing.T, c *chattest.Conn, deleted time.Time) {
	t.Helper()
	c.Expect("^BYE this server is cut off from its cluster: connect to another$")
	if took := time.Since(deleted); took > 15*time.Second {
		t.Errorf("%s was told to go %v after the stream was deleted, want within 15 s", c.Name, took.Round(time.Millisecond))
	}
}

// A record the stream refuses for good (max_msg_size lowered under a
// running server) is answered to its member with an ERR and dropped; the
// records after it go on.
func TestClusterRecordRefusedForGood(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1}}
	addr1 := joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr1, "ann")
	bob := chattest.Register(t, addr1, "bob")
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	info, err := s1.cluster.stream.Info(ctx)
	check(t, err)
	cfg := info.Config
	cfg.MaxMsgSize = 600
	_, err = s1.cluster.js.UpdateStream(ctx, cfg)
	check(t, err)

	ann.Send("MSG " + strings.Repeat("x", 700))
	ann.Expect("^ERR LINE_TOO_LONG the cluster's stream refused this: ")
	ann.Send("MSG after")
	bob.Expect("^MSG ann after$")
	if got := bob.Seen; slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, "xxx") }) {
		t.Errorf("bob saw the refused line: %q", got)
	}
}

// Through traffic with joins and leaves, compaction keeps the stream to
// its newest snapshot and the messages after it, and a server started
// afterwards reads the same room and history from it.
func TestClusterStreamStaysSmall(t *testing.T) {
	ns := startNATS(t, nil)
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 5}}
	s2 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 5}}
	addrs := []string{joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"}), joinCluster(t, s2, Config{URLs: ns.ClientURL(), Name: "s2"})}
	ann := chattest.Register(t, addrs[0], "ann")
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	for round := range 5 {
		for i, addr := range addrs {
			c := chattest.Register(t, addr, fmt.Sprintf("u%d_%d", round, i))
			c.Send("MSG hello from " + c.Name)
			ann.Expect("^MSG " + c.Name + " hello from ")
			c.Send("QUIT")
			ann.Expect("^LEFT " + c.Name + "$")
		}
		applied := s1.cluster.lastApplied.Load()
		waitReached(t, s1, s2)
		compactNow(t, s1)
		info, err := s1.cluster.stream.Info(ctx)
		check(t, err)
		if int64(info.State.FirstSeq) <= applied {
			t.Fatalf("round %d: the stream starts at %d, though both servers had applied up to %d", round, info.State.FirstSeq, applied)
		}
	}
	registerLater(t, ns.ClientURL(), 5, "LIST ann cid", ann.AskHistory(""))
}

// registerLater registers cid on a server started now on the NATS at url,
// which keeps keep messages, and checks that it sees the room as the
// others do: LIST says list, and HISTORY is history.
func registerLater(t *testing.T, url string, keep int, list string, history []string) *chattest.Conn {
	t.Helper()
	s := &testServer{Server: &server.Server{FloodRate: -1, Keep: keep}}
	cid := chattest.Register(t, joinCluster(t, s, Config{URLs: url, Name: "later"}), "cid")
	cid.Send("LIST")
	if got := cid.Expect("^LIST "); got != list {
		t.Errorf("on a server started later, %q, want %q", got, list)
	}
	if got := cid.AskHistory(""); !slices.Equal(got, history) {
		t.Errorf("HISTORY on a server started later:\n%s\nwant, as on the others:\n%s", strings.Join(got, "\n"), strings.Join(history, "\n"))
	}
	return cid
}

// On a stream whose max_msg_size is the least a server takes, 512 bytes,
// a snapshot of a long history goes in many parts, and a server started
// after compaction reads the same room and history from them.
func TestClusterSnapshotInManyParts(t *testing.T) {
	ns := startNATS(t, nil)
	createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects, MaxMsgSize: minMsgSize})
	s1 := &testServer{Server: &server.Server{FloodRate: -1, Keep: 100}}
	ann := chattest.Register(t, joinCluster(t, s1, Config{URLs: ns.ClientURL(), Name: "s1"}), "ann")
	for i := range 100 {
		ann.Send(fmt.Sprintf("MSG %d %s", i, strings.Repeat("é", 150)))
		ann.Expect(fmt.Sprintf("^MSG ann %d ", i))
	}
	want := ann.AskHistory("")
	compactNow(t, s1)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	msg, err := s1.cluster.stream.GetLastMsgForSubject(ctx, snapSubject)
	check(t, err)
	if !strings.Contains(string(msg.Data), `"parts":`) || strings.Contains(string(msg.Data), `"parts":1,`) {
		t.Fatalf("the snapshot's index %s: want a snapshot in many parts", msg.Data)
	}
	registerLater(t, ns.ClientURL(), 100, "LIST ann cid", want)
}
