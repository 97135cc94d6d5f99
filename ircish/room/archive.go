package room

// An Archive keeps a copy of the messages a room keeps, apart from the
// room: a store on disk for a server alone, so that they outlive it
// (package store). The room calls Add with its lock held: Add never
// blocks and never fails; what the archive cannot keep, it counts and
// logs itself.
type Archive interface {
	// Add keeps e, the newest message the room keeps.
	Add(e Entry)
}
