package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"ircish/ircish/room"
)

// A searchReq is a Search for the writer to answer; reply has room for
// the answer, so that the writer never waits for a searcher that gave up.
type searchReq struct {
	words []string
	max   int
	reply chan searchResult
}

type searchResult struct {
	found []room.Entry
	err   error
}

var errClosed = errors.New("store: closed")

// Search returns the newest max messages kept that hold every one of
// words (see ircish.SearchWords), oldest first: whole words, whatever
// their case and accents. Nothing in words is FTS5 syntax. Messages added
// before the call are searched. It waits for the writer, until ctx ends.
func (s *Store) Search(ctx context.Context, words []string, max int) ([]room.Entry, error) {
	req := searchReq{words: words, max: max, reply: make(chan searchResult, 1)}
	select {
	case s.searches <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.ended:
		return nil, errClosed
	}
	select {
	case r := <-req.reply:
		return r.found, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// search answers req, on the writer: it writes what waits, indexes what
// is not indexed yet, and queries the index.
func (s *Store) search(req searchReq) searchResult {
	if len(req.words) == 0 || req.max <= 0 {
		return searchResult{}
	}
	if err := s.write(); err != nil {
		// What waits would not be found: no answer rather than a wrong one.
		time.AfterFunc(s.retryAfter, s.kick)
		return searchResult{err: err}
	}
	if err := s.catchUp(); err != nil {
		return searchResult{err: err}
	}
	ctx := context.Background()
	rows, err := s.w.conn.QueryContext(ctx,
		"SELECT rowid, at, sender, text FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2",
		matchQuery(req.words), req.max)
	if err != nil {
		return searchResult{err: err}
	}
	defer rows.Close()
	var found []room.Entry
	for rows.Next() {
		var e room.Entry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.From, &e.Text); err != nil {
			return searchResult{err: err}
		}
		e.At = time.Unix(0, at).UTC()
		found = append(found, e)
	}
	if err := rows.Err(); err != nil {
		return searchResult{err: err}
	}
	slices.Reverse(found)
	return searchResult{found: found}
}

// catchUp indexes the messages written since the last search, in one
// transaction. The index is filled here, not as messages are written, so
// that a server whose users never search pays nothing for it.
func (s *Store) catchUp() error {
	ctx := context.Background()
	c := s.w.conn
	rows, err := c.QueryContext(ctx, "SELECT last, data FROM chunks WHERE last > ? ORDER BY last", s.w.indexed)
	if err != nil {
		return err
	}
	// Read them all first: the connection runs one statement at a time.
	var es []room.Entry
	var last int64
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&last, &data); err != nil {
			rows.Close()
			return err
		}
		if es, err = decodeChunk(data, es); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if len(es) == 0 {
		return nil
	}
	err = inTx(ctx, c, func() error {
		stmt, err := c.PrepareContext(ctx, "INSERT INTO messages_fts (rowid, text, sender, at) VALUES (?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range es {
			if e.Seq <= s.w.indexed {
				continue
			}
			if _, err := stmt.ExecContext(ctx, e.Seq, e.Text, e.From, e.At.UnixNano()); err != nil {
				return err
			}
		}
		_, err = c.ExecContext(ctx, "UPDATE room SET indexed = ?", last)
		return err
	})
	if err != nil {
		return err
	}
	s.w.indexed = last
	return nil
}

// matchQuery returns the FTS5 query that finds the messages holding every
// one of words: each word a string, so that nothing typed is syntax ("OR",
// "NEAR(", "quick*" are plain words there), side by side, which FTS5 reads
// as AND. A word with punctuation inside ("don't") is a phrase of its
// tokens, which must come together, in that order. SQLite's unicode61
// tables are older than Go's: a word only of letters newer than them
// tokenizes to nothing, an empty phrase, which matches no row.
func matchQuery(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(quoter.Replace(w))
		b.WriteByte('"')
	}
	return b.String()
}

// quoter makes a word the inside of an FTS5 string: FTS5 escapes " by
// doubling it, and reads the query as a C string, which a NUL would end
// (the server refuses NULs in lines anyway).
var quoter = strings.NewReplacer(`"`, `""`, "\x00", " ")
