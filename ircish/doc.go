// Package ircish is the ircish chat server and its line protocol (see
// protocol.txt at the repository's root).
//
// Types worth knowing: Message, with ParseClientLine, ParseServerLine and
// AppendLine, is the protocol; Error is a protocol error that carries its
// ERR line; CheckNick and FoldNick are the nick rules; Server serves one
// room on any number of listeners, with Serve and Shutdown as net/http's
// Server does.
//
// # Goroutines and who owns what
//
// Each connection has one reader goroutine (client.serve, then
// client.readOn): it frames lines (lineReader), runs commands and, at the
// end, leaves the room. Only it reads the connection and changes the
// client's own fields. After each burst of lines it hands over to a fresh
// goroutine, so that an idle client waits on the smallest stack.
//
// Each connection has an outbox, its queue of lines to write. A writer
// goroutine exists only while the outbox holds lines: it takes everything
// queued, copies it into a pooled buffer, writes that, and exits once the
// queue is empty. Only it writes the connection. A client whose queue
// grows past its limit is dropped, so that no one waits for a slow reader.
// Lines to others may wait a moment (a kicker's delay) before their writer
// starts, so that a burst of them costs each member a few writes rather
// than one a line.
//
// The room holds the registered clients. Its mutex orders every broadcast:
// under it a line is queued in every member's outbox, which never blocks,
// and no I/O is done. That gives all members one and the same order of
// JOINED, RENAMED, LEFT and MSG lines.
//
// The Server's own mutex guards its listeners, its set of connections and
// its per-IP counters; Shutdown takes it to say BYE to everyone.
package ircish
