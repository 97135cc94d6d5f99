// Package server serves one chat room to the clients of its listeners:
// their connections, their commands, and the room as this server serves
// it, alone (in process) or with other servers, through an engine that
// orders the room's records (see room.Engine, and package cluster).
//
// Types worth knowing: Server, with Serve and Shutdown as net/http's
// Server has, and UseEngine to share the room with other servers.
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
// only one of the two writes the connection at a time. A client whose
// queue grows past its limit is dropped, so that no one waits for a slow
// reader.
//
// The room's logic is a pure fold (room.State): records of what members
// do (join, rename, say, whisper, leave) go in, in one order, and events
// come out: who joined, which nick is refused, who hears what. An engine
// orders the records: in a cluster, a NATS JetStream stream that every
// server reads and folds alike. In process, the hub is its own engine:
// its lock orders the records, which it applies as they are submitted.
//
// The hub (hub.go) is the room as this server serves it: the clients
// registered here, each as a member, and the room's state. It numbers a
// member's records and submits them to the engine without its lock; the
// engine hands them back in order to the hub's Apply, which takes its
// lock (the one lock order: engine, then hub). In process, it applies
// them under the same lock as it numbers them: one lock per line said. The hub's mutex is held
// while records are applied and their events sent, which gives all
// members one and the same order of JOINED, RENAMED, LEFT and MSG lines;
// no I/O is done under it. A broadcast line is appended once to the
// room's pending lines, which all members share; a moment later each
// member is handed its part of them as one slice, queued in its outbox,
// which never blocks (handout.go). So a burst of lines costs each member
// one queue entry and a few writes, not one a line. (Members that asked
// for seqs, with HISTORY LIVE, share a second copy of the pending lines,
// with MSG lines in the HISTORY form.) A client's goroutine that submits
// a join, rename or whisper waits for its verdict: at once in process,
// once the stream has it in a cluster.
//
// The server's counters (metrics.go), which Stats reads, are atomic: a
// line read or a client gone costs one add, and no lock. What the room's
// hand-outs write is added up by each goroutine that writes it, and
// counted once per hand-out; a writer goroutine counts once per batch.
//
// A connection whose first line is an HTTP request (sniff.go says how
// long the server waits for one) is handed to an http.Server (web.go),
// which serves the page and, at /ws, WebSockets. Its goroutines are
// net/http's: a handler's returns once its WebSocket is admitted as a
// connection of its own (a wsConn, wsconn.go, read and written as any
// other), so an idle WebSocket holds no goroutine of the web server's. A
// connection handed over counts against the limits until it closes or
// becomes a WebSocket.
//
// The Server's own mutex guards its listeners, its set of connections, its
// per-IP counters and its refusals (how many are being told why, and the
// count of those not logged); Shutdown takes it to say BYE to everyone.
// Shutdown owns everything the Server starts: it waits for the Serve loops,
// the connections (refused ones too) and the room's hand-outs, and then
// closes the engine.
package server
