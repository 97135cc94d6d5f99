// Package store keeps a room's messages in a SQLite file (modernc.org/sqlite,
// pure Go), so that a server alone gives the same HISTORY after a restart.
//
// Types worth knowing: Store, made by Open, which also returns what the
// file keeps as a room.Snapshot for the server to restore.
//
// # Goroutines and who owns what
//
// One writer goroutine (Store.writer) owns the only SQLite connection,
// held for the store's life, and everything the file holds: the list of
// its chunks and its counts. Add takes the store's mutex for a moment to
// queue a message, never waits for the disk, and may be called from any
// goroutine, with any lock held (the room calls it under its own). The
// writer takes what waits, as one transaction, when the oldest message
// has waited Options.Flush, or when a chunk's worth waits; Close asks the
// writer to write everything and stop.
//
// # The file
//
// A row of table chunks per write: the messages of the batch, oldest
// first, as a JSON array of {"seq","at" (Unix ns),"from","text"}. A row per
// batch, not per message, costs the write path well under a microsecond a
// message. Table room holds gone, the seq up to which messages are no
// longer kept. The schema has a version (PRAGMA user_version) and an
// application id (PRAGMA application_id, "ircs"); the program migrates
// it itself, and refuses a file that is not a SQLite database, one of
// another program, or one of a newer schema, without changing it.
//
// At most maxPending messages wait for a slow or stalled disk; beyond
// that, new messages are not stored, and the store logs how many once a
// write works again ("store messages dropped"). The room is not touched:
// it keeps its messages in memory for HISTORY either way.
package store
