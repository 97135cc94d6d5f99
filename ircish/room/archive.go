package room

import "context"

// An Archive keeps a copy of the messages a room keeps, apart from the
// room, and finds them again by their words: a store on disk for a server
// alone, so that they outlive it (package store). The room calls Add with
// its lock held: Add never blocks and never fails; what the archive
// cannot keep, it counts and logs itself. Search may be called from any
// goroutine, and may wait for the archive, until ctx ends.
type Archive interface {
	// Add keeps e, the newest message the room keeps.
	Add(e Entry)
	// Search returns the newest max messages kept that hold every one of
	// words (see ircish.SearchWords), oldest first.
	Search(ctx context.Context, words []string, max int) ([]Entry, error)
}
