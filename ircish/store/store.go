package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver of database/sql

	"ircish/ircish"
	"ircish/ircish/room"
)

// Options say how a store keeps messages.
type Options struct {
	Keep  int           // messages kept, at least 1: as many as the room keeps
	Flush time.Duration // longest a message waits to be written with others; 0: at once
	Log   *slog.Logger  // nil: none

	// for tests; 0: the defaults
	maxPending  int           // messages that may wait for the disk
	maxChunk    int           // messages per chunk
	busyTimeout time.Duration // how long a write waits for another program's lock
	retry       time.Duration // how long after a failed write the next is tried
}

const (
	// defaultMaxChunk is how many messages a chunk holds at most, and how
	// many waiting make the writer write at once.
	defaultMaxChunk = 1024
	// defaultMaxPending is how many messages may wait for a slow disk:
	// about a second of the fastest ingest of one server.
	defaultMaxPending = 1 << 16
	// maxPendingBytes bounds the memory of the messages waiting.
	maxPendingBytes = 16 << 20
)

// A Store keeps a room's messages in a SQLite file. Its methods are safe
// to call from any goroutine.
type Store struct {
	path        string
	log         *slog.Logger
	keep        int
	flushAfter  time.Duration
	maxPending  int
	maxChunk    int
	retryAfter  time.Duration
	file        *os.File // open, and locked, while SQLite has the file
	db          *sql.DB
	wake        chan struct{}           // tells the writer to write now; room for one
	closing     chan closeReq           // Close's request to the writer
	searches    chan searchReq          // Search's requests to the writer
	ended       chan struct{}           // closed by the writer as it ends
	endErr      error                   // the writer's last word, once ended
	mu          sync.Mutex              // guards what follows; never held during I/O
	pending     []room.Entry            // messages not yet written, oldest first
	pendingSize int                     // their bytes, roughly
	accounts    map[string]room.Account // accounts changed since the last write, by key; Hash "": dropped
	bans        *banSet                 // the bans and mutes to write, if they changed
	dropped     int                     // messages not stored since the last write
	scheduled   bool                    // a write is due within flushAfter
	closed      bool                    // Close was called: Add keeps nothing more
	reset       bool                    // pending replaces everything kept (see Reset)
	w           writerState             // the writer's alone
}

// writerState is what only the writer goroutine touches, once Open has
// returned.
type writerState struct {
	conn    *sql.Conn
	chunks  []chunkInfo // the file's chunks, oldest first
	total   int         // messages in them
	indexed int64       // messages up to this seq are in messages_fts
	failing bool        // the last write failed
	buf     bytes.Buffer
	spare   []room.Entry // the batch written last, for pending to reuse
}

// chunkInfo is a row of table chunks, without its data.
type chunkInfo struct {
	last, first int64
	count       int
}

type closeReq struct {
	ctx context.Context
}

// Open opens the store in the SQLite file path, or creates it, and returns
// it with the messages it keeps, as much as Keep: the room's messages
// when the store was last closed. It never changes a file that is not an
// ircish store of a schema it knows. Its errors say what is wrong, but do
// not name the file.
func Open(path string, o Options) (*Store, room.Snapshot, error) {
	s, snap, err := open(path, o)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = fmt.Errorf("%s: %w", pe.Op, pe.Err)
		}
		return nil, room.Snapshot{}, err
	}
	go s.writer()
	return s, snap, nil
}

func open(path string, o Options) (s *Store, snap room.Snapshot, err error) {
	if o.Keep < 1 {
		return nil, snap, errors.New("store: Keep must be at least 1")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, snap, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	if err := lock(f); err != nil {
		return nil, snap, err
	}
	if err := checkHeader(f); err != nil {
		return nil, snap, err
	}
	s = newStore(path, o)
	s.file = f
	// No DSN pragmas: they would run before check, and journal_mode=WAL
	// would rewrite a foreign file's header.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, snap, err
	}
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, snap, err
	}
	defer func() {
		if err != nil {
			c.Close()
			db.Close()
		}
	}()
	s.db, s.w.conn = db, c
	version, err := prepare(ctx, c, cmpOr(o.busyTimeout, 5*time.Second))
	if err != nil {
		return nil, snap, err
	}
	if err := migrate(ctx, c, version); err != nil {
		return nil, snap, err
	}
	// Find out now, not at the first message, if the file cannot be written.
	err = inTx(ctx, c, func() error {
		_, err := c.ExecContext(ctx, "UPDATE room SET gone = gone")
		return err
	})
	if err != nil {
		return nil, snap, fmt.Errorf("cannot write: %w", err)
	}
	snap, err = s.load(ctx)
	if err != nil {
		return nil, snap, err
	}
	return s, snap, nil
}

// checkHeader returns errNotSQLite unless f is empty or begins as a
// SQLite database does. Checked here, SQLite never opens, and never
// "repairs" or leaves a -wal beside, a file that is not a database.
func checkHeader(f *os.File) error {
	header := make([]byte, 16)
	switch n, err := io.ReadFull(f, header); {
	case n == 0 && err == io.EOF:
		return nil
	case err == io.ErrUnexpectedEOF || err == nil && string(header) != "SQLite format 3\x00":
		return errNotSQLite
	default:
		return err
	}
}

// prepare sets c's connection up, once check has found the file is ours
// (or new), and returns the schema version the file has.
func prepare(ctx context.Context, c *sql.Conn, busy time.Duration) (version int, err error) {
	if _, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", busy.Milliseconds())); err != nil {
		return 0, err
	}
	if version, err = check(ctx, c); err != nil {
		return 0, err
	}
	var mode string
	if err := c.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return 0, fmt.Errorf("cannot use WAL mode: %w", err)
	} else if mode != "wal" {
		return 0, fmt.Errorf("cannot use WAL mode: the journal stays %s", mode)
	}
	// WAL with synchronous NORMAL: a commit outlives a killed process;
	// only a crash of the system may lose the last ones.
	if _, err := c.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return 0, err
	}
	return version, nil
}

// OpenMemory returns a store in memory, which no restart outlives: the
// index of a cluster server's messages, which it adds as it applies them
// and builds again as it reads the room afresh (Reset), so that HISTORY
// SEARCH works there too.
func OpenMemory(o Options) (*Store, error) {
	if o.Keep < 1 {
		return nil, errors.New("store: Keep must be at least 1")
	}
	s := newStore(":memory:", o)
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one connection, one database
	ctx := context.Background()
	c, err := db.Conn(ctx)
	if err == nil {
		err = migrate(ctx, c, 0)
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	s.db, s.w.conn = db, c
	go s.writer()
	return s, nil
}

func newStore(path string, o Options) *Store {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		path:       path,
		log:        log,
		keep:       o.Keep,
		flushAfter: o.Flush,
		maxPending: cmpOr(o.maxPending, defaultMaxPending),
		maxChunk:   cmpOr(o.maxChunk, defaultMaxChunk),
		retryAfter: cmpOr(o.retry, time.Second),
		wake:       make(chan struct{}, 1),
		closing:    make(chan closeReq),
		searches:   make(chan searchReq),
		ended:      make(chan struct{}),
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// load reads the chunk list, and returns the messages of the newest
// chunks that hold Keep of them, and the seq up to which the others are
// gone.
func (s *Store) load(ctx context.Context) (room.Snapshot, error) {
	var snap room.Snapshot
	c := s.w.conn
	if err := c.QueryRowContext(ctx, "SELECT gone, indexed FROM room").Scan(&snap.Gone, &s.w.indexed); err != nil {
		return snap, err
	}
	rows, err := c.QueryContext(ctx, "SELECT last, first, count FROM chunks ORDER BY last")
	if err != nil {
		return snap, err
	}
	for rows.Next() {
		var ch chunkInfo
		if err := rows.Scan(&ch.last, &ch.first, &ch.count); err != nil {
			rows.Close()
			return snap, err
		}
		s.w.chunks = append(s.w.chunks, ch)
		s.w.total += ch.count
	}
	if err := rows.Close(); err != nil {
		return snap, err
	}
	if snap.Accounts, err = loadAccounts(ctx, c); err != nil {
		return snap, err
	}
	if snap.Bans, snap.Mutes, err = loadBans(ctx, c); err != nil {
		return snap, err
	}
	from, n := len(s.w.chunks), 0
	for from > 0 && n < s.keep {
		from--
		n += s.w.chunks[from].count
	}
	if from > 0 {
		snap.Gone = max(snap.Gone, s.w.chunks[from-1].last)
	}
	if from == len(s.w.chunks) {
		return snap, nil
	}
	rows, err = c.QueryContext(ctx, "SELECT data FROM chunks WHERE last >= ? ORDER BY last", s.w.chunks[from].last)
	if err != nil {
		return snap, err
	}
	defer rows.Close()
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return snap, err
		}
		if snap.Messages, err = decodeChunk(data, snap.Messages); err != nil {
			return snap, fmt.Errorf("a broken chunk: %w", err)
		}
	}
	return snap, rows.Err()
}

// loadAccounts returns the accounts the file keeps.
func loadAccounts(ctx context.Context, c *sql.Conn) ([]room.Account, error) {
	rows, err := c.QueryContext(ctx, "SELECT nick, hash FROM accounts ORDER BY key")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var as []room.Account
	for rows.Next() {
		var a room.Account
		if err := rows.Scan(&a.Nick, &a.Hash); err != nil {
			return nil, err
		}
		as = append(as, a)
	}
	return as, rows.Err()
}

// Add keeps e, the room's newest message. It never waits for the disk:
// if too many messages wait already, e is not stored, and counted.
func (s *Store) Add(e room.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return
	case len(s.pending) >= s.maxPending || s.pendingSize >= maxPendingBytes:
		s.dropped++
		return
	}
	s.pending = append(s.pending, e)
	s.pendingSize += entrySize(e)
	switch {
	case s.flushAfter == 0 || len(s.pending) >= s.maxChunk:
		s.kick()
	case !s.scheduled:
		s.scheduled = true
		time.AfterFunc(s.flushAfter, s.kick)
	}
}

// Reset has the store keep kept only, oldest first, in place of all it
// keeps: the room was read afresh (see room.Room's Reset). It never waits
// for the disk.
func (s *Store) Reset(kept []room.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	clear(s.pending)
	s.pending = append(s.pending[:0], kept...)
	s.pendingSize = 0
	for _, e := range kept {
		s.pendingSize += entrySize(e)
	}
	s.reset = true
	s.kick()
}

// SetAccount keeps the hash of nick's account, or drops the account if
// hash is "". It never waits for the disk.
func (s *Store) SetAccount(nick, hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.setAccount(ircish.FoldNick(nick), room.Account{Nick: nick, Hash: hash})
	s.kick()
}

// setAccount notes a, an account changed. The caller holds s.mu.
func (s *Store) setAccount(key string, a room.Account) {
	if s.accounts == nil {
		s.accounts = make(map[string]room.Account)
	}
	s.accounts[key] = a
}

// A banSet is the bans and mutes in force, all of them.
type banSet struct{ bans, mutes []room.Ban }

// SetBans keeps bans and mutes, all there are, in place of those kept.
// It never waits for the disk.
func (s *Store) SetBans(bans, mutes []room.Ban) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.bans = &banSet{bans, mutes}
	s.kick()
}

// writeBans writes bs, if not nil, in place of the bans kept, in c's
// transaction.
func writeBans(ctx context.Context, c *sql.Conn, bs *banSet) error {
	if bs == nil {
		return nil
	}
	if _, err := c.ExecContext(ctx, "DELETE FROM bans"); err != nil {
		return err
	}
	for mute, bans := range [][]room.Ban{bs.bans, bs.mutes} {
		for _, b := range bans {
			var until int64
			if !b.Until.IsZero() {
				until = b.Until.Unix()
			}
			if _, err := c.ExecContext(ctx, "INSERT INTO bans (mute, target, until, by, reason) VALUES (?, ?, ?, ?, ?)", mute, b.Target, until, b.By, b.Reason); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadBans returns the bans and mutes the file keeps.
func loadBans(ctx context.Context, c *sql.Conn) (bans, mutes []room.Ban, err error) {
	rows, err := c.QueryContext(ctx, "SELECT mute, target, until, by, reason FROM bans ORDER BY target")
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b room.Ban
		var mute bool
		var until int64
		if err := rows.Scan(&mute, &b.Target, &until, &b.By, &b.Reason); err != nil {
			return nil, nil, err
		}
		if until != 0 {
			b.Until = time.Unix(until, 0).UTC()
		}
		if mute {
			mutes = append(mutes, b)
		} else {
			bans = append(bans, b)
		}
	}
	return bans, mutes, rows.Err()
}

// writeAccounts writes the accounts changed, in c's transaction.
func writeAccounts(ctx context.Context, c *sql.Conn, accounts map[string]room.Account) error {
	for key, a := range accounts {
		var err error
		if a.Hash == "" {
			_, err = c.ExecContext(ctx, "DELETE FROM accounts WHERE key = ?", key)
		} else {
			_, err = c.ExecContext(ctx, "INSERT INTO accounts (key, nick, hash) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET nick = ?2, hash = ?3", key, a.Nick, a.Hash)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func entrySize(e room.Entry) int { return len(e.From) + len(e.Text) + 64 }

// kick wakes the writer, if it sleeps.
func (s *Store) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close writes what waits, and closes the file. If ctx ends first, what
// waits is not written, and Close says how much.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		select {
		case s.closing <- closeReq{ctx}:
		case <-s.ended:
		}
	}
	<-s.ended
	return s.endErr
}

// writer writes what waits, when told to, until Close.
func (s *Store) writer() {
	defer close(s.ended)
	for {
		select {
		case <-s.wake:
			if err := s.write(); err != nil {
				time.AfterFunc(s.retryAfter, s.kick)
			}
		case req := <-s.searches:
			req.reply <- s.search(req)
		case req := <-s.closing:
			s.endErr = s.end(req.ctx)
			return
		}
	}
}

// end writes everything that waits, trying again until ctx ends, and
// closes the file.
func (s *Store) end(ctx context.Context) error {
	var err error
	for {
		if err = s.write(); err == nil {
			break
		}
		t := time.NewTimer(s.retryAfter)
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		s.mu.Lock()
		n := len(s.pending)
		s.mu.Unlock()
		err = fmt.Errorf("%d messages not written: %w", n, err)
		break
	}
	c := s.w.conn
	if err == nil && s.file != nil {
		c.ExecContext(ctx, "PRAGMA optimize")
		c.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	c.Close()
	if cerr := s.db.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if s.file != nil {
		s.file.Close() // only now: it holds the lock
	}
	return err
}

// write writes, in one transaction, the messages that wait, and drops
// the oldest chunks beyond those that hold Keep messages. On an error,
// the messages wait again, in front of those that came meanwhile.
func (s *Store) write() error {
	s.mu.Lock()
	batch, reset := s.pending, s.reset
	s.pending, s.w.spare = s.w.spare[:0], nil
	s.pendingSize = 0
	s.scheduled, s.reset = false, false
	dropped := s.dropped
	accounts, bans := s.accounts, s.bans
	s.accounts, s.bans = nil, nil
	s.mu.Unlock()
	if len(batch) == 0 && !reset && len(accounts) == 0 && bans == nil {
		return nil
	}
	added, cut, err := s.writeBatch(batch, reset, accounts, bans)
	if err != nil {
		s.putBack(batch, reset, accounts, bans)
		if !s.w.failing {
			s.w.failing = true
			s.log.Error("store write failed", "file", s.path, "err", err)
		}
		return err
	}
	s.w.failing = false
	if reset {
		s.w.chunks, s.w.total, s.w.indexed = nil, 0, 0
	}
	s.w.chunks = append(s.w.chunks, added...)
	for _, ch := range added {
		s.w.total += ch.count
	}
	for len(s.w.chunks) > 0 && s.w.chunks[0].last <= cut {
		s.w.total -= s.w.chunks[0].count
		s.w.chunks = s.w.chunks[1:]
	}
	clear(batch)
	s.w.spare = batch[:0]
	if dropped > 0 {
		s.mu.Lock()
		s.dropped -= dropped
		s.mu.Unlock()
		s.log.Warn("store messages dropped", "file", s.path, "count", dropped)
	}
	return nil
}

// putBack has batch, which could not be written, wait again in front of
// the messages added since, as many as may wait: the newest beyond that
// are dropped.
func (s *Store) putBack(batch []room.Entry, reset bool, accounts map[string]room.Account, bans *banSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bans == nil {
		s.bans = bans
	}
	for key, a := range accounts {
		if _, newer := s.accounts[key]; !newer {
			s.setAccount(key, a)
		}
	}
	if s.reset { // a Reset came meanwhile: it replaces batch
		return
	}
	s.reset = reset
	all := append(batch, s.pending...)
	if len(all) > s.maxPending {
		s.dropped += len(all) - s.maxPending
		clear(all[s.maxPending:])
		all = all[:s.maxPending]
	}
	s.pending = all
	s.pendingSize = 0
	for _, e := range all {
		s.pendingSize += entrySize(e)
	}
}

// writeBatch inserts batch as chunks, and deletes the oldest chunks the
// store no longer needs to keep Keep messages, in one transaction. It
// returns the chunks added, and the seq up to which chunks were deleted.
func (s *Store) writeBatch(batch []room.Entry, reset bool, accounts map[string]room.Account, bans *banSet) (added []chunkInfo, cut int64, err error) {
	ctx := context.Background()
	c := s.w.conn
	err = inTx(ctx, c, func() error {
		if err := writeAccounts(ctx, c, accounts); err != nil {
			return err
		}
		if err := writeBans(ctx, c, bans); err != nil {
			return err
		}
		if reset {
			for _, q := range []string{
				"DELETE FROM chunks",
				"DELETE FROM messages_fts",
				"UPDATE room SET indexed = 0",
			} {
				if _, err := c.ExecContext(ctx, q); err != nil {
					return err
				}
			}
		}
		for rest := batch; len(rest) > 0; {
			n := min(len(rest), s.maxChunk)
			data, err := encodeChunk(&s.w.buf, rest[:n])
			if err != nil {
				return err
			}
			ch := chunkInfo{first: rest[0].Seq, last: rest[n-1].Seq, count: n}
			if _, err := c.ExecContext(ctx, "INSERT INTO chunks (last, first, count, data) VALUES (?, ?, ?, ?)", ch.last, ch.first, ch.count, string(data)); err != nil {
				return err
			}
			added = append(added, ch)
			rest = rest[n:]
		}
		// Retention: drop the oldest chunks while the others hold Keep.
		total, all := 0, added
		if !reset {
			total, all = s.w.total, append(s.w.chunks[:len(s.w.chunks):len(s.w.chunks)], added...)
		}
		for _, ch := range added {
			total += ch.count
		}
		for _, ch := range all {
			if total-ch.count < s.keep {
				break
			}
			total -= ch.count
			cut = ch.last
		}
		if cut == 0 {
			return nil
		}
		for _, q := range []string{
			"DELETE FROM chunks WHERE last <= ?1",
			"DELETE FROM messages_fts WHERE rowid <= ?1",
			"UPDATE room SET gone = max(gone, ?1)",
		} {
			if _, err := c.ExecContext(ctx, q, cut); err != nil {
				return err
			}
		}
		return nil
	})
	return added, cut, err
}
