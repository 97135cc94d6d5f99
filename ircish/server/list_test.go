package server

import (
	"ircish/internal/chattest"
	"ircish/ircish"
	"ircish/ircish/room"

	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every LIST is the room as the lines before it left it, while others join,
// rename and leave all the time.
func TestListIsInItsPlace(t *testing.T) {
	const (
		idlers   = 300 // so that a LIST takes a while to make
		churners = 6
		lists    = 300
	)
	addr := startServer(t, &Server{FloodRate: -1})
	for i := range idlers {
		chattest.Register(t, addr, fmt.Sprintf("idler%03d", i))
	}
	lister := chattest.Register(t, addr, "lister")

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range churners {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				nick := fmt.Sprintf("churn%d_%d", i, n)
				c := chattest.Register(t, addr, nick)
				c.Send("NICK " + strings.ToUpper(nick))
				c.Expect("^RENAMED " + nick + " ")
				c.Send("QUIT")
				c.Closed()
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	var here map[string]bool // nil until the first LIST
	for range lists {
		lister.Send("LIST")
		for {
			m, err := ircish.ParseServerLine([]byte(lister.Expect("^(LIST|JOINED|RENAMED|LEFT)( |$)")))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case m.Verb == ircish.Joined && here != nil:
				here[m.Params[0]] = true
			case m.Verb == ircish.Renamed && here != nil:
				delete(here, m.Params[0])
				here[m.Params[1]] = true
			case m.Verb == ircish.Left && here != nil:
				delete(here, m.Params[0])
			}
			if m.Verb != ircish.List {
				continue
			}
			if here == nil {
				here = make(map[string]bool)
				for _, nick := range m.Params {
					here[nick] = true
				}
				break
			}
			want := slices.Sorted(func(yield func(string) bool) {
				for nick := range here {
					if !yield(nick) {
						return
					}
				}
			})
			got := slices.Sorted(slices.Values(m.Params))
			if !slices.Equal(got, want) {
				t.Fatalf("LIST of %d differs from the %d the lines before it leave: only in LIST %q, only in the lines %q",
					len(got), len(want), missing(want, got), missing(got, want))
			}
			break
		}
	}
}

// missing returns the strings of a not in b, both sorted.
func missing(b, a []string) []string {
	var out []string
	for _, s := range a {
		if _, found := slices.BinarySearch(b, s); !found {
			out = append(out, s)
		}
	}
	return out
}

// A LIST of the biggest room that -max-clients allows by default, of the
// longest nicks in 4-byte letters, is more than the send queue holds: it
// comes whole, the client who asked is not dropped, and room lines go on.
func TestListOfTheWorstRoomFits(t *testing.T) {
	s := &Server{FloodRate: -1}
	addr := startServer(t, s)
	asker := chattest.Register(t, addr, "asker")
	talker := chattest.Register(t, addr, "talker")

	s.hub.mu.Lock()
	for i := range DefaultMaxClients - 2 {
		nick := []rune(strings.Repeat("𝔞", 32))
		for j, d := range fmt.Sprintf("%05d", i) {
			nick[j] = '𝔞' + (d - '0')
		}
		s.hub.state.Apply(room.Record{Op: room.OpJoin, ID: room.MemberID{Node: "elsewhere", Num: uint64(i)}, Nick: string(nick)})
	}
	s.hub.mu.Unlock()

	asker.Send("LIST")
	list := asker.Expect("^LIST ")
	if n := len(list); n <= DefaultSendQueue {
		t.Fatalf("LIST is %d bytes, want a worst case of more than the %d the send queue holds", n, DefaultSendQueue)
	}
	if got := strings.Count(list, " "); got != DefaultMaxClients {
		t.Errorf("LIST has %d nicks, want %d", got, DefaultMaxClients)
	}
	talker.Send("MSG still here")
	asker.Expect("^MSG talker still here$")
}

// A discardConn takes every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) Close() error                     { return nil }
