// Package ircish is the ircish line protocol (see protocol.txt at the
// repository's root): what a client and the server say to each other.
//
// Types worth knowing: Message, with ParseClientLine, ParseServerLine and
// AppendLine, is one protocol line; Error is a protocol error that carries
// its ERR line; CheckNick and FoldNick are the nick rules, CheckText the
// text rules; AppendHistory formats a HISTORY line.
//
// # The packages of ircish
//
// Seven packages, whose imports point one way, from the protocol down:
//
//	ircish          the protocol; the standard library only
//	ircish/password argon2id hashes of passwords, and their limits;
//	                golang.org/x/crypto only
//	ircish/room     the room's logic as a pure fold, and the contract
//	                between a room and the engine that orders its
//	                records (room.Engine, room.Room), or an archive
//	                that keeps its messages (room.Archive); imports ircish
//	ircish/server   connections, commands, the room as a server serves
//	                it, its in-process engine, and Server; imports ircish,
//	                password and room
//	ircish/cluster  the engine of a cluster of servers, on NATS JetStream;
//	                imports ircish and room, never server
//	ircish/store    the room's messages in a SQLite file, kept across
//	                restarts (a room.Archive); imports room, never server
//	ircish/client   the client's logic, without I/O; imports ircish and
//	                password
//
// A command (internal/servercmd) wires a server to a cluster's engine,
// or to a store.
package ircish
