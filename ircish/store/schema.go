package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// appID marks a SQLite file as an ircish store: "ircs".
const appID = 0x69726373

// migrations[i] takes the schema from version i to i+1.
var migrations = []string{schemaV1, schemaV2}

const schemaV1 = `
PRAGMA application_id = 1769104243;
CREATE TABLE chunks (           -- the messages kept: a row per write, oldest row first
    last  INTEGER PRIMARY KEY,  -- seq of its newest message
    first INTEGER NOT NULL,     -- seq of its oldest
    count INTEGER NOT NULL,
    data  TEXT NOT NULL         -- JSON array of {"seq","at" (Unix ns),"from","text"}, oldest first
) STRICT;
CREATE TABLE room (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    gone    INTEGER NOT NULL,   -- messages up to this seq are no longer kept
    indexed INTEGER NOT NULL    -- messages up to this seq are in messages_fts
) STRICT;
-- gone starts at the time of day in microseconds, as a server's seqs do:
-- messages of a run before the store existed are gone.
INSERT INTO room (id, gone, indexed) VALUES (1, CAST(unixepoch('subsec') * 1000000 AS INTEGER), 0);
CREATE VIRTUAL TABLE messages_fts USING fts5(
    text, sender UNINDEXED, at UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
);
`

// schemaV2 keeps registered nicks, bans and mutes.
const schemaV2 = `
CREATE TABLE accounts (
    key  TEXT PRIMARY KEY,      -- the nick folded (ircish.FoldNick)
    nick TEXT NOT NULL,         -- as registered
    hash TEXT NOT NULL          -- argon2id, PHC string format
) STRICT;
CREATE TABLE bans (             -- all rewritten at each change: operators make few
    mute   INTEGER NOT NULL,    -- 1: a mute, 0: a ban
    target TEXT NOT NULL,       -- a nick, an IP address or a network
    until  INTEGER NOT NULL,    -- Unix seconds; 0: forever
    by     TEXT NOT NULL,
    reason TEXT NOT NULL
) STRICT;
`

// Errors of Open. They name no file: the caller names it once.
var (
	errNotSQLite = errors.New("not a SQLite database")
	errForeign   = errors.New("a SQLite database of another program")
	errInUse     = errors.New("in use by another server")
)

// check refuses a database that is not an ircish store of a schema this
// program knows, and returns its schema version: 0 for an empty one.
func check(ctx context.Context, c *sql.Conn) (int, error) {
	var id, version, objects int
	if err := c.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil {
		return 0, err
	}
	if err := c.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, err
	}
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return 0, err
	}
	switch {
	case id == 0 && version == 0 && objects == 0:
		return 0, nil
	case id != appID:
		return 0, errForeign
	case version > len(migrations):
		return 0, fmt.Errorf("made by a newer server (schema version %d; this one knows %d)", version, len(migrations))
	}
	return version, nil
}

// migrate takes the schema from version to the newest, a version per
// transaction.
func migrate(ctx context.Context, c *sql.Conn, version int) error {
	for v := version; v < len(migrations); v++ {
		err := inTx(ctx, c, func() error {
			if _, err := c.ExecContext(ctx, migrations[v]); err != nil {
				return err
			}
			// PRAGMAs take no parameters.
			_, err := c.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1))
			return err
		})
		if err != nil {
			return fmt.Errorf("cannot upgrade the schema to version %d: %w", v+1, err)
		}
	}
	return nil
}

// inTx runs f in a write transaction on c, taken at once (BEGIN
// IMMEDIATE), and commits it if f succeeds.
func inTx(ctx context.Context, c *sql.Conn, f func() error) error {
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := f(); err != nil {
		c.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		c.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	return nil
}
