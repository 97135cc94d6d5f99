package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
)

// BenchmarkBroadcast measures the broadcast path: one MSG to a room of 100
// members whose outboxes write to real loopback connections, until every
// member has read every line. The sender keeps to the pace of the
// slowest reader, as a client's TCP window would make it, so that no one
// is dropped. An op is one message, that is 100 deliveries.
func BenchmarkBroadcast(b *testing.B) {
	const members = 100
	s := &Server{}
	s.init()
	clients := make([]*member, members)
	var done sync.WaitGroup
	for i := range clients {
		server, peer := loopbackPair(b)
		done.Add(1)
		go func() {
			defer done.Done()
			readUntilTheEnd(peer)
		}()
		out := newOutbox(server, s.sendQueue(), s.writeTimeout())
		out.meter = s.meter // counted as a client's is
		m, err := s.hub.join(out, fmt.Sprintf("m%d", i), "", "", false)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = m
	}
	text := strings.Repeat("x", 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.hub.say(clients[0], text)
		if i%64 == 63 {
			for _, c := range clients {
				c.out.waitBelow(64 << 10)
			}
		}
	}
	s.hub.say(clients[0], "the end")
	done.Wait()
	b.StopTimer()
	for _, c := range clients {
		if reason := c.out.err(); reason != "" {
			b.Fatalf("member %d was dropped: %s", c.num, reason)
		}
	}
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkFanout measures the whole server: one client sends MSG lines,
// 100 registered clients receive them. An op is one message.
func BenchmarkFanout(b *testing.B) {
	const receivers = 100
	addr := startServer(b, &Server{FloodRate: -1})
	var done sync.WaitGroup
	for i := range receivers {
		c := rawRegister(b, addr, fmt.Sprintf("r%d", i))
		done.Add(1)
		go func() {
			defer done.Done()
			readUntilTheEnd(c)
		}()
	}
	sender := rawRegister(b, addr, "sender")
	go io.Copy(io.Discard, sender)
	line := []byte("MSG " + strings.Repeat("x", 64) + "\n")
	b.ReportAllocs()
	b.ResetTimer()
	w := bufio.NewWriter(sender)
	for range b.N {
		w.Write(line)
	}
	w.WriteString("MSG the end\n")
	w.Flush()
	done.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*(receivers+1))/b.Elapsed().Seconds(), "deliveries/s")
}

// readUntilTheEnd reads lines from conn up to one that ends in "the end".
func readUntilTheEnd(conn net.Conn) {
	sc := bufio.NewScanner(conn)
	for sc.Scan() && !bytes.HasSuffix(sc.Bytes(), []byte(" the end")) {
	}
}

// loopbackPair returns the two ends of a loopback TCP connection.
func loopbackPair(b testing.TB) (net.Conn, net.Conn) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	peer, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Close(); peer.Close() })
	return server, peer
}

// rawRegister connects and registers as nick, reading up to its JOINED.
func rawRegister(b *testing.B, addr, nick string) net.Conn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "NICK %s\n", nick)
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if line == "JOINED "+nick+"\r\n" {
			break
		}
	}
	if r.Buffered() > 0 {
		b.Fatalf("%s: unexpected lines after JOINED", nick)
	}
	return conn
}
