// Package ircish is the ircish chat server and its line protocol (see
// protocol.txt at the repository's root).
//
// Types worth knowing: Message, with ParseClientLine, ParseServerLine and
// AppendLine, is the protocol; Error is a protocol error that carries its
// ERR line; CheckNick and FoldNick are the nick rules; Server serves one
// room on any number of listeners, with Serve and Shutdown as net/http's
// Server does, alone or, after JoinCluster, with other servers.
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
// The room's logic is a pure fold (state.go): records of what members do
// (join, rename, say, whisper, leave) go in, in one order, and events
// come out: who joined, which nick is refused, who hears what. An engine
// orders the records (engine.go): in process, the room's mutex; in a
// cluster (JoinCluster, cluster.go), a NATS JetStream stream that every
// server reads and folds alike.
//
// The room holds the clients registered here, each as a member: its place
// in the room's lines, which only the room touches, under its mutex. The
// mutex is held while a record is applied and its event sent, which gives
// all members one and the same order of JOINED, RENAMED, LEFT and MSG
// lines; no I/O is done under it. A broadcast line is appended once to the
// room's pending lines, which all members share; a moment later each
// member is handed its part of them as one slice, queued in its outbox,
// which never blocks. So a burst of lines costs each member one queue
// entry and a few writes, not one a line. (Members that asked for seqs,
// with HISTORY LIVE, share a second copy of the pending lines, with MSG
// lines in the HISTORY form.) The room also keeps the last messages said,
// numbered, in a ring (history.go).
//
// In a cluster, five goroutines more: the stream's consumer applies the
// records as they come, under the room's mutex; the rereader reads the
// room afresh from the stream, should records this server had yet to
// apply be deleted while it was away, or its reader stall; the publisher
// (publisher.go) sends this server's records to the stream, one NATS
// message at a time; the watch sends heartbeats, fences the server when
// it stops hearing its own or its records wait too long for the stream,
// has the room read afresh when the reader stalls, and has the users of
// lost servers leave; and the compactor compacts the
// stream, or, on the servers that do not, forgets the users gone. A
// client's goroutine queues its records for the publisher and, for a join,
// rename or whisper, waits for its verdict.
//
// The Server's own mutex guards its listeners, its set of connections, its
// per-IP counters and its refusals (how many are being told why, and the
// count of those not logged); Shutdown takes it to say BYE to everyone.
// Shutdown owns everything the Server starts: it waits for the Serve loops,
// the connections (refused ones too) and the room's hand-outs.
package ircish
