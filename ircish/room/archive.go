package room

import "context"

// An Archive keeps a copy of the messages a room keeps, apart from the
// room, and finds them again by their words: a store on disk for a server
// alone, so that they outlive it, or an index in memory beside a
// cluster's stream (package store). The room calls Add and Reset with its
// lock held: they never block and never fail; what the archive cannot
// keep, it counts and logs itself. Search may be called from any
// goroutine, and may wait for the archive, until ctx ends.
type Archive interface {
	// Add keeps e, the newest message the room keeps.
	Add(e Entry)
	// Reset has the archive keep kept only, oldest first: the room was
	// read afresh (see Room.Reset).
	Reset(kept []Entry)
	// SetAccount keeps the hash of nick's account; "": it was dropped.
	SetAccount(nick, hash string)
	// SetBans keeps bans and mutes, all there are, in place of those kept.
	SetBans(bans, mutes []Ban)
	// Search returns the newest max messages kept that hold every one of
	// words (see ircish.SearchWords), oldest first.
	Search(ctx context.Context, words []string, max int) ([]Entry, error)
}
