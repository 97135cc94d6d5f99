package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ircish/internal/chattest"
	"ircish/ircish/server"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCheckStream checks each setting fixConfig fixes or refuses, on a
// stream as NATS reports it once created with streamSubjects, changed by
// set.
func TestCheckStream(t *testing.T) {
	type sc = jetstream.StreamConfig
	const needed = "ircish.say ircish.m.> ircish.lease ircish.snap ircish.snap.part"
	for _, tc := range []struct {
		name    string
		set     func(c *sc)
		changes string // "setting was -> now", joined by "; "
		err     string // what the error says, if it is refused
	}{
		{"as created", func(c *sc) {}, "", ""},
		{"other settings kept", func(c *sc) { c.MaxConsumers, c.Duplicates, c.Replicas = 10, time.Hour, 3 }, "", ""},

		{"previous version's subjects", func(c *sc) { c.Subjects = []string{"ircish.say", "ircish.m.>"} },
			"subjects ircish.say ircish.m.> -> " + needed, ""},
		{"every ircish subject, heartbeats too", func(c *sc) { c.Subjects = []string{"ircish.>"} },
			"subjects ircish.> -> " + needed, ""},
		{"a wildcard over heartbeats", func(c *sc) { c.Subjects = append(c.Subjects, "ircish.*") },
			"subjects " + needed + " ircish.* -> " + needed, ""},
		{"narrower filters", func(c *sc) { c.Subjects = []string{"ircish.say", "ircish.m.*", "ircish.lease", "ircish.snap.>"} },
			"subjects ircish.say ircish.m.* ircish.lease ircish.snap.> -> " + needed, ""},
		{"unrelated subjects kept", func(c *sc) { c.Subjects = append(c.Subjects, "audit.>", "ircish") }, "", ""},
		{"unrelated subjects kept in a fix", func(c *sc) { c.Subjects = []string{"audit.>", "ircish.say", "ircish.m.>"} },
			"subjects audit.> ircish.say ircish.m.> -> " + needed + " audit.>", ""},
		{"unrelated subject over heartbeats", func(c *sc) { c.Subjects = append(c.Subjects, "*.alive") }, "",
			`the stream ircish has subjects "` + needed + ` *.alive": it needs "` + needed + `" ("*.alive" overlaps ircish.>: take it off the stream, or use another NATS)`},
		{"every subject", func(c *sc) { c.Subjects, c.NoAck = []string{">"}, true }, "",
			`the stream ircish has subjects ">": it needs "` + needed + `" (">" overlaps ircish.>`},

		{"max_age", func(c *sc) { c.MaxAge, c.Duplicates = 30*time.Second, 30*time.Second },
			"max_age 30s -> 0s; duplicate_window 30s -> 2m0s", ""},
		{"max_msgs", func(c *sc) { c.MaxMsgs = 1000 }, "max_msgs 1000 -> -1", ""},
		{"max_bytes", func(c *sc) { c.MaxBytes = 1 << 20 }, "max_bytes 1048576 -> -1", ""},
		{"max_msgs_per_subject", func(c *sc) { c.MaxMsgsPerSubject = 5 }, "max_msgs_per_subject 5 -> -1", ""},
		{"discard new per subject", func(c *sc) { c.MaxMsgsPerSubject, c.Discard, c.DiscardNewPerSubject = 5, jetstream.DiscardNew, true },
			"max_msgs_per_subject 5 -> -1; discard_new_per_subject true -> false", ""},
		{"duplicate_window", func(c *sc) { c.Duplicates = time.Minute }, "duplicate_window 1m0s -> 2m0s", ""},
		{"no duplicate_window", func(c *sc) { c.Duplicates = 0 }, "duplicate_window 0s -> 2m0s", ""},
		{"no_ack", func(c *sc) { c.NoAck = true }, "no_ack true -> false", ""},
		{"interest", func(c *sc) { c.Retention = jetstream.InterestPolicy }, "retention interest -> limits", ""},
		{"several", func(c *sc) { c.Subjects, c.MaxMsgs, c.NoAck = []string{"ircish.say", "ircish.m.>"}, 10, true },
			"subjects ircish.say ircish.m.> -> " + needed + "; max_msgs 10 -> -1; no_ack true -> false", ""},
		{"max_msg_size at the floor", func(c *sc) { c.MaxMsgSize = 512 }, "", ""},

		{"max_msg_size below the floor", func(c *sc) { c.MaxMsgSize = 511 }, "",
			"the stream ircish has max_msg_size 511: it needs at least 512, or -1 ("},
		{"workqueue", func(c *sc) { c.Retention, c.MaxAge = jetstream.WorkQueuePolicy, time.Minute }, "",
			`the stream ircish has retention "workqueue": it needs "limits" (NATS cannot change a work queue's retention; delete the stream, or use another NATS)`},
		{"sealed", func(c *sc) { c.Sealed = true }, "", "the stream ircish has sealed true: it needs false ("},
		{"mirror", func(c *sc) { c.Subjects, c.Mirror = nil, &jetstream.StreamSource{Name: "elsewhere"} }, "",
			`the stream ircish has mirror "elsewhere": it needs none (`},
		{"deny_purge", func(c *sc) { c.DenyPurge = true }, "", "the stream ircish has deny_purge true: it needs false ("},
	} {
		cfg := jetstream.StreamConfig{
			Name: streamName, Subjects: slices.Clone(streamSubjects), Retention: jetstream.LimitsPolicy,
			MaxMsgs: -1, MaxBytes: -1, MaxMsgsPerSubject: -1, MaxMsgSize: -1, Duplicates: duplicateWindow,
		}
		tc.set(&cfg)
		fixed, changes, err := fixConfig(cfg)
		var got []string
		for _, c := range changes {
			got = append(got, c.setting+" "+c.was+" -> "+c.now)
		}
		switch {
		case tc.err != "":
			if !errors.As(err, new(streamRefusal)) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: fixConfig = %q, %v; want a refusal of one line that says %q", tc.name, got, err, tc.err)
			}
		case err != nil || strings.Join(got, "; ") != tc.changes:
			t.Errorf("%s: fixConfig = %q, %v; want %q", tc.name, got, err, tc.changes)
		default:
			if _, again, err := fixConfig(fixed); len(again) > 0 || err != nil {
				t.Errorf("%s: fixConfig of its own fix = %v, %v; want no change", tc.name, again, err)
			}
		}
	}
}

// TestCheckStreamSubjectFilters checks the matching of NATS subject
// filters against NATS's own rules.
func TestCheckStreamSubjectFilters(t *testing.T) {
	for _, tc := range []struct {
		a, b            string
		covers, collide bool // a covers b; some subject matches both
	}{
		{"ircish.say", "ircish.say", true, true},
		{"ircish.say", "ircish.snap", false, false},
		{"ircish.>", "ircish.m.>", true, true},
		{"ircish.>", "ircish", false, false},
		{"ircish.>", "*.alive", false, true},
		{"ircish.>", ">", false, true},
		{">", "ircish.m.a.1", true, true},
		{"ircish.m.>", "ircish.m.*.*", true, true},
		{"ircish.m.*.*", "ircish.m.>", false, true},
		{"ircish.m.*", "ircish.m.a.1", false, false},
		{"ircish.*", "ircish.alive", true, true},
		{"ircish.*", "ircish.snap.part", false, false},
		{"*.say", "ircish.say", true, true},
		{"ircish.say", "*.say", false, true},
		{"*", ">", false, true},
		{"a.*.c", "a.b.*", false, true},
		{"a.*.c", "a.b.d", false, false},
	} {
		if got := subjectCovers(tc.a, tc.b); got != tc.covers {
			t.Errorf("subjectCovers(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.covers)
		}
		for _, ab := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
			if got := subjectsCollide(ab[0], ab[1]); got != tc.collide {
				t.Errorf("subjectsCollide(%q, %q) = %v, want %v", ab[0], ab[1], got, tc.collide)
			}
		}
	}
}

// createStream creates the cluster's stream on the NATS at url, as an
// operator may have before any server started.
func createStream(t *testing.T, url string, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	js := jetStreamAt(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	cfg.Name = streamName
	stream, err := js.CreateStream(ctx, cfg)
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	return stream
}

// streamConfig returns the settings of stream as NATS has them now.
func streamConfig(t *testing.T, stream jetstream.Stream) jetstream.StreamConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.Config
}

// joinRefused checks that a server cannot join the cluster at url, and
// says so with a line that matches want as soon as it has seen the stream,
// rather than once its wait to join is over.
func joinRefused(t *testing.T, url, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	start := time.Now()
	err := new(server.Server).UseEngine(ctx, New(Config{URLs: url, Name: "s1"}))
	if err == nil || !regexp.MustCompile(want).MatchString(err.Error()) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("UseEngine: got error %v, want one line that matches %q", err, want)
	}
	if took := time.Since(start); took > chattest.WaitTimeout/2 {
		t.Errorf("UseEngine took %v to give up, most of its wait of %v", took.Round(time.Millisecond), chattest.WaitTimeout)
	}
}

// On a stream made beforehand with a max_msg_size of 512, a server
// starts; a line too long for it gets ERR, and a short one goes through.
// A user stays present for a server started later.
func TestStreamSmallMaxMsgSize(t *testing.T) {
	ns := startNATS(t, nil)
	createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects, MaxMsgSize: 512})
	addr := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	ann.Send("MSG " + strings.Repeat("x", 600))
	ann.Expect("^ERR LINE_TOO_LONG the cluster's NATS takes messages of at most 512 bytes")
	ann.Send("MSG short")
	bob.Expect("^MSG ann short$")

	later := joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1}}, Config{URLs: ns.ClientURL(), Name: "s2"})
	carl := chattest.Register(t, later, "carl")
	carl.Send("LIST")
	if got, want := carl.Expect("^LIST "), "LIST ann bob carl"; got != want {
		t.Errorf("on the server started later, %q; want %q", got, want)
	}
}

// On a stream of the previous version made beforehand with a max_age of
// 30 s, a server starts, says what it changed, and the stream keeps its
// records for good.
func TestStreamMaxAgeRemoved(t *testing.T) {
	ns := startNATS(t, nil)
	stream := createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: []string{sayingsSubject, memberSubjects}, MaxAge: 30 * time.Second})
	var log chattest.LogBuffer
	joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1, Log: log.Logger()}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	for _, want := range []string{
		`level=WARN msg="stream setting changed" setting=subjects was="ircish.say ircish.m.>" now="ircish.say ircish.m.> ircish.lease ircish.snap ircish.snap.part"`,
		`level=WARN msg="stream setting changed" setting=max_age was=30s now=0s`,
		`level=WARN msg="stream setting changed" setting=duplicate_window was=30s now=2m0s`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not say %s; it says:\n%s", want, log.String())
		}
	}
	cfg := streamConfig(t, stream)
	if cfg.MaxAge != 0 || cfg.Duplicates != duplicateWindow || !slices.Equal(cfg.Subjects, streamSubjects) {
		t.Errorf("the stream has max_age %v, duplicate_window %v, subjects %q; want 0s, %v, %q", cfg.MaxAge, cfg.Duplicates, cfg.Subjects, duplicateWindow, streamSubjects)
	}
}

// A stream made beforehand with a work queue's retention, which NATS
// cannot change, is refused at start, and left as it was.
func TestStreamWorkQueueRefused(t *testing.T) {
	ns := startNATS(t, nil)
	stream := createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects, Retention: jetstream.WorkQueuePolicy, MaxAge: 30 * time.Second})
	joinRefused(t, ns.ClientURL(), `the stream ircish has retention "workqueue": it needs "limits" \(`)
	if cfg := streamConfig(t, stream); cfg.MaxAge != 30*time.Second {
		t.Errorf("the refused stream's max_age is %v, want it left at 30s", cfg.MaxAge)
	}
}

// A stream made beforehand with a max_msg_size of 100, too small for a
// join, is refused at start.
func TestStreamTinyMaxMsgSizeRefused(t *testing.T) {
	ns := startNATS(t, nil)
	createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects, MaxMsgSize: 100})
	joinRefused(t, ns.ClientURL(), fmt.Sprintf(`the stream ircish has max_msg_size 100: it needs at least %d, or -1 \(`, minMsgSize))
}

// A stream whose fix NATS refuses, here as its operator allows no
// duplicate window of 2 minutes, is refused at start, with a line that
// says what it needs.
func TestStreamFixRefused(t *testing.T) {
	ns := startNATS(t, func(o *natsserver.Options) { o.JetStreamLimits.Duplicates = time.Minute })
	createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects})
	joinRefused(t, ns.ClientURL(), `the stream ircish needs duplicate_window 2m0s \(not 1m0s\), and NATS did not make the change: .*duplicates window can not be larger`)
}

// A stream whose first records were deleted, and that holds no snapshot,
// is read, with a warning that it may lack members.
func TestStreamRecordsDeletedWithoutSnapshot(t *testing.T) {
	ns := startNATS(t, nil)
	stream := createStream(t, ns.ClientURL(), jetstream.StreamConfig{Subjects: streamSubjects})
	ctx, cancel := context.WithTimeout(context.Background(), chattest.WaitTimeout)
	defer cancel()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, sayingsSubject, []byte("SAY 0123456789ab 1 2\nlost\n")); err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	var log chattest.LogBuffer
	joinCluster(t, &testServer{Server: &server.Server{FloodRate: -1, Log: log.Logger()}}, Config{URLs: ns.ClientURL(), Name: "s1"})
	if want := `level=WARN msg="stream records deleted without a snapshot; the room read may lack members" first_seq=2`; !strings.Contains(log.String(), want) {
		t.Errorf("the log does not say %s; it says:\n%s", want, log.String())
	}
}
