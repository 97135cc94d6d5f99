package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ircish/ircish"
	"ircish/ircish/room"
)

// entries returns n messages, seqs from first on, said at times with
// nanoseconds.
func entries(first int64, n int) []room.Entry {
	at := time.Date(2026, 12, 4, 9, 0, 0, 123456789, time.Local)
	es := make([]room.Entry, n)
	for i := range es {
		es[i] = room.Entry{Seq: first + int64(i), At: at.Add(time.Duration(i) * 1001 * time.Microsecond), From: "ann", Text: fmt.Sprintf("line %d <&> \"é\"", i+1)}
	}
	return es
}

func historyLines(es []room.Entry) string {
	var b []byte
	for _, e := range es {
		b = ircish.AppendHistory(b, e.Seq, e.At, e.From, e.Text)
	}
	return string(b)
}

func mustOpen(t *testing.T, path string, o Options) (*Store, room.Snapshot) {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	s, snap, err := Open(path, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	return s, snap
}

func mustClose(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// A store gives back the messages it was given, byte for byte in HISTORY
// lines, after it is closed and opened again.
func TestReopenKeepsMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	before := time.Now().UnixMicro()
	s, snap := mustOpen(t, path, Options{Keep: 100, Flush: 10 * time.Millisecond})
	if len(snap.Messages) != 0 || snap.Gone < before || snap.Gone > time.Now().UnixMicro() {
		t.Fatalf("a new store gives %d messages, gone %d, want none, gone the time of its creation (%d)", len(snap.Messages), snap.Gone, before)
	}
	created := snap.Gone
	es := entries(created+1, 30)
	for _, e := range es[:10] {
		s.Add(e)
	}
	for _, e := range es[10:] { // more, perhaps with a write between
		s.Add(e)
	}
	mustClose(t, s)
	s, snap = mustOpen(t, path, Options{Keep: 100})
	defer mustClose(t, s)
	if snap.Gone != created {
		t.Errorf("gone %d after reopening, want %d", snap.Gone, created)
	}
	if got, want := historyLines(snap.Messages), historyLines(es); got != want {
		t.Errorf("after reopening:\n%s\nwant:\n%s", got, want)
	}
	for i, e := range snap.Messages {
		if !e.At.Equal(es[i].At) {
			t.Errorf("message %d said at %v, want %v", i, e.At, es[i].At)
		}
	}
}

// Close writes what waits, however long it would have waited.
func TestCloseWritesEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 10, Flush: time.Hour})
	es := entries(snap.Gone+1, 5)
	for _, e := range es {
		s.Add(e)
	}
	mustClose(t, s)
	s.Add(entries(snap.Gone+6, 1)[0]) // after Close: not kept, no panic
	s, snap = mustOpen(t, path, Options{Keep: 10})
	defer mustClose(t, s)
	if got, want := historyLines(snap.Messages), historyLines(es); got != want {
		t.Errorf("after reopening:\n%s\nwant:\n%s", got, want)
	}
}

// The store keeps Keep messages at least, and deletes the older chunks;
// reopened, it gives the last Keep, and the rest are gone.
func TestRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 10, maxChunk: 4})
	es := entries(snap.Gone+1, 25)
	for _, e := range es[:7] { // one write each (Flush 0)
		s.Add(e)
	}
	mustClose(t, s)
	s, _ = mustOpen(t, path, Options{Keep: 10, maxChunk: 4, Flush: time.Hour})
	for _, e := range es[7:] { // chunks of 4 as they fill, the rest at Close
		s.Add(e)
	}
	mustClose(t, s)
	s, snap = mustOpen(t, path, Options{Keep: 10, maxChunk: 4})
	defer mustClose(t, s)
	n := len(snap.Messages)
	if n < 10 || n >= 10+4 {
		t.Fatalf("reopened with %d messages, want 10 to 13", n)
	}
	if got, want := historyLines(snap.Messages), historyLines(es[25-n:]); got != want {
		t.Errorf("after reopening:\n%s\nwant:\n%s", got, want)
	}
	if want := es[25-n-1].Seq; snap.Gone != want {
		t.Errorf("gone %d, want %d", snap.Gone, want)
	}
	var rows, kept int
	if err := s.w.conn.QueryRowContext(context.Background(), "SELECT count(*), sum(count) FROM chunks").Scan(&rows, &kept); err != nil {
		t.Fatal(err)
	}
	if kept != n || rows != len(s.w.chunks) {
		t.Errorf("the file has %d chunks of %d messages, want %d of %d", rows, kept, len(s.w.chunks), n)
	}
}

// Open refuses a file that is not an ircish store of a schema it knows,
// says why, and leaves the file as it was.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sqliteFile := func(name string, stmts ...string) string {
		path := filepath.Join(dir, name)
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return path
	}
	textFile := filepath.Join(dir, "text.db")
	if err := os.WriteFile(textFile, []byte("hello, not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shortFile := filepath.Join(dir, "short.db")
	if err := os.WriteFile(shortFile, []byte("SQLite"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro.db")
	if err := os.WriteFile(readOnly, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, want string
		noWAL            bool // SQLite never opened it: no -wal or -shm beside
	}{
		{"text", textFile, "not a SQLite database", true},
		{"short", shortFile, "not a SQLite database", true},
		{"another program's", sqliteFile("other.db", "CREATE TABLE t (x)"), "a SQLite database of another program", true},
		{"another program's, with an id", sqliteFile("otherid.db", "PRAGMA application_id = 42"), "a SQLite database of another program", true},
		{"newer", sqliteFile("newer.db", "PRAGMA application_id = 1769104243", "PRAGMA user_version = 99", "CREATE TABLE t (x)"),
			"made by a newer server (schema version 99; this one knows 2)", true},
		{"no directory", filepath.Join(dir, "nodir", "x.db"), "open: no such file or directory", false},
		{"read-only", readOnly, "open: permission denied", false},
	} {
		if c.name == "read-only" && os.Geteuid() == 0 {
			continue // root may write anything
		}
		before, _ := os.ReadFile(c.path)
		s, _, err := Open(c.path, Options{Keep: 10})
		if err == nil {
			s.Close(ctx)
			t.Errorf("%s: opened, want error %q", c.name, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s: Open() = %q, want %q", c.name, err, c.want)
		}
		if after, _ := os.ReadFile(c.path); !bytes.Equal(after, before) {
			t.Errorf("%s: the file changed", c.name)
		}
		if c.noWAL {
			for _, ext := range []string{"-wal", "-shm", "-journal"} {
				if _, err := os.Stat(c.path + ext); err == nil {
					t.Errorf("%s: %s left beside it", c.name, ext)
				}
			}
		}
	}
}

// Two servers never write one store.
func TestOpenRefusesAStoreInUse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, _ := mustOpen(t, path, Options{Keep: 10})
	if _, _, err := Open(path, Options{Keep: 10}); err == nil || err.Error() != "in use by another server" {
		t.Errorf("Open of a store in use = %v, want in use by another server", err)
	}
	mustClose(t, s)
	s, _ = mustOpen(t, path, Options{Keep: 10})
	mustClose(t, s)
}

// A disk that stops taking writes stalls no one who adds: the store keeps
// maxPending messages waiting, drops the newest beyond them and counts
// them, logs the failure once, and writes what waits once the disk takes
// writes again. The stall is SQLite's own: another connection holds the
// write lock.
func TestStalledDiskNeverBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	var log syncBuffer
	s, snap, holder := openStalled(t, path, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(&log, nil))
		o.maxPending = 50
	})
	ctx := context.Background()
	es := entries(snap.Gone+1, 80)
	for _, e := range es {
		s.Add(e) // the test times out if one blocks
	}
	log.waitFor(t, `msg="store write failed"`)
	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	if got := strings.Count(log.String(), "store write failed"); got != 1 {
		t.Errorf("%d store write failed records, want 1:\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), `msg="store messages dropped" file=`+path+` count=30`) {
		t.Errorf("no record of 30 messages dropped:\n%s", log.String())
	}
	s, snap = mustOpen(t, path, Options{Keep: 1000})
	defer mustClose(t, s)
	if got, want := historyLines(snap.Messages), historyLines(es[:50]); got != want {
		t.Errorf("after reopening:\n%s\nwant the first 50:\n%s", got, want)
	}
}

// openStalled opens a store on a disk that stops taking writes once it is
// open: another connection holds SQLite's write lock until the test rolls
// back holder. The store's writes wait 10 ms for it.
func openStalled(t *testing.T, path string, opts ...func(*Options)) (*Store, room.Snapshot, *sql.Conn) {
	t.Helper()
	o := Options{Keep: 1000, Flush: time.Millisecond, busyTimeout: 10 * time.Millisecond, retry: 20 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	s, snap := mustOpen(t, path, o)
	ctx := context.Background()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return s, snap, holder
}

// Close gives up when its ctx ends, and says how many messages it did not
// write.
func TestCloseGivesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 10, Flush: time.Hour, busyTimeout: 10 * time.Millisecond, retry: 10 * time.Millisecond})
	ctx := context.Background()
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	holder, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries(snap.Gone+1, 3) {
		s.Add(e)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = s.Close(cctx)
	if err == nil || !strings.HasPrefix(err.Error(), "3 messages not written: ") {
		t.Errorf("Close() = %v, want 3 messages not written", err)
	}
	holder.ExecContext(ctx, "ROLLBACK")
}

// A syncBuffer is a log that a test reads while the store writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the log holds s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	for !strings.Contains(b.String(), s) {
		time.Sleep(time.Millisecond) // polling the log: no event to wait on
	}
}

// testWriter writes a store's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// Open takes a file of an older schema to the newest, a version per
// transaction, running only the migrations it lacks, and keeps its
// messages.
func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, snap := mustOpen(t, path, Options{Keep: 10})
	es := entries(snap.Gone+1, 3)
	for _, e := range es {
		s.Add(e)
	}
	mustClose(t, s)
	// Make it a file of the first schema, as the first servers left it.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DROP TABLE accounts; DROP TABLE bans; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	defer func(m []string) { migrations = m }(migrations)
	n := len(migrations)
	migrations = append(migrations[:n:n], "CREATE TABLE extra (x TEXT) STRICT; INSERT INTO extra VALUES ('next')")
	for _, p := range []string{path, filepath.Join(t.TempDir(), "new.db")} {
		s, snap = mustOpen(t, p, Options{Keep: 10})
		var version, rows int
		c := s.w.conn
		if err := c.QueryRowContext(context.Background(), "PRAGMA user_version").Scan(&version); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(context.Background(), "SELECT count(*) FROM extra").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(context.Background(), "SELECT count(*) FROM accounts").Scan(new(int)); err != nil {
			t.Errorf("%s: no accounts table (schema version 2): %v", filepath.Base(p), err)
		}
		if version != n+1 || rows != 1 {
			t.Errorf("%s: schema version %d with %d rows of the last migration, want %d with 1", filepath.Base(p), version, rows, n+1)
		}
		if p == path && historyLines(snap.Messages) != historyLines(es) {
			t.Errorf("the messages did not outlive the migration: %v", snap.Messages)
		}
		mustClose(t, s)
	}
}

// Accounts outlive a restart, as last set; one set while the disk stalls
// is written once it takes writes again, and a drop is a drop.
func TestAccountsOutliveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	var log syncBuffer
	s, _, holder := openStalled(t, path, func(o *Options) { o.Log = slog.New(slog.NewTextHandler(&log, nil)) })
	s.SetAccount("Ann", "h1")
	s.SetAccount("bob", "h2")
	log.waitFor(t, `msg="store write failed"`)
	s.SetAccount("ANN", "h3")
	s.SetAccount("cy", "h4")
	s.SetAccount("CY", "")
	if _, err := holder.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	s, snap := mustOpen(t, path, Options{Keep: 10})
	defer mustClose(t, s)
	if got, want := fmt.Sprint(snap.Accounts), "[{ANN h3} {bob h2}]"; got != want {
		t.Errorf("accounts after reopening: %s, want %s", got, want)
	}
}

// Bans and mutes outlive a restart, as last set.
func TestBansOutliveRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ircish.db")
	s, _ := mustOpen(t, path, Options{Keep: 10})
	until := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s.SetBans([]room.Ban{{Target: "gone", By: "op"}}, nil)
	s.SetBans([]room.Ban{{Target: "10.0.0.0/8", By: "op", Reason: "spam"}, {Target: "bob", Until: until, By: "op"}},
		[]room.Ban{{Target: "cy", Until: until, By: "op", Reason: "calm"}})
	mustClose(t, s)
	s, snap := mustOpen(t, path, Options{Keep: 10})
	defer mustClose(t, s)
	if got, want := fmt.Sprint(snap.Bans, snap.Mutes), "[{10.0.0.0/8 0001-01-01 00:00:00 +0000 UTC op spam} {bob 2026-12-04 10:00:00 +0000 UTC op }] [{cy 2026-12-04 10:00:00 +0000 UTC op calm}]"; got != want {
		t.Errorf("after reopening: %s\nwant %s", got, want)
	}
}
