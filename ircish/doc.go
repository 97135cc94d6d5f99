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
// Each connection has one reader goroutine (conn.serve, then
// conn.readOn, in conn.go): it frames lines (lineReader), runs commands
// (the command table and its handlers are in commands.go) and, at the
// end, leaves the room. Only it reads the connection and touches the
// conn's fields. After each burst of lines it hands over to a fresh
// goroutine, so that an idle client waits on the smallest stack.
//
// Each connection has an outbox, its queue of lines to write. A writer
// goroutine exists only while the outbox holds lines: it takes everything
// queued, writes it 16 KiB at a time (short lines gathered in a pooled
// buffer), and exits once the queue is empty. The room's hand-outs (below)
// write without one where the socket has room, with non-blocking writes;
// only one of the two writes the connection at a time. A client whose queue grows
// past its limit is dropped, so that no one waits for a slow reader.
//
// The room holds the registered clients, each as a member: its nick and
// its place in the room's lines, which only the room touches, under its
// mutex. The mutex orders every broadcast, which gives all members one and
// the same order of JOINED, RENAMED, LEFT and MSG lines; no I/O is done
// under it. A broadcast line is appended once to the room's pending lines,
// which all members share; a moment later each member is handed its part
// of them as one slice, queued in its outbox, which never blocks. So a
// burst of lines costs each member one queue entry and a few writes, not
// one a line. (Members that asked for seqs, with HISTORY LIVE, share a
// second copy of the pending lines, with MSG lines in the HISTORY form.)
// The room also keeps the last messages said, numbered, in a ring
// (history.go).
//
// The Server's own mutex guards its listeners, its set of connections, its
// per-IP counters and its refusals (how many are being told why, and the
// count of those not logged); Shutdown takes it to say BYE to everyone.
// Shutdown owns everything the Server starts: it waits for the Serve loops,
// the connections (refused ones too) and the room's hand-outs.
package ircish
