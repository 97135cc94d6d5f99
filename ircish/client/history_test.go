package client

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkHandled feeds lines to s, and checks the events that come out (nil
// ones left out) and the replies.
func checkHandled(t *testing.T, s *Session, lines []string, want []Event, wantReplies string) {
	t.Helper()
	var events []Event
	var replies string
	for _, line := range lines {
		ev, reply := s.Handle([]byte(line))
		if ev != nil {
			events = append(events, ev)
		}
		replies += string(reply)
	}
	if replies != wantReplies {
		t.Errorf("replies %q, want %q", replies, wantReplies)
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("events\n%#v\nwant\n%#v", events, want)
	}
}

func at(ms int) time.Time { return time.Date(2026, 11, 28, 9, 15, 2, ms*1e6, time.UTC) }

func TestScrollback(t *testing.T) {
	s, _ := NewSession("duck", 2)
	checkHandled(t, s, []string{
		"JOINED duck",
		"MSG bob early", // before the server sends seqs
		"HISTORY LIVE",
		"HISTORY 11 2026-11-28T09:15:02.011Z bob live", // before the reply
		"HISTORY 9 2026-11-28T09:15:02.009Z ann old",
		"HISTORY 10 2026-11-28T09:15:02.010Z bob early",
		"HISTORY 11 2026-11-28T09:15:02.011Z bob live",
		"HISTORY END 3",
		"HISTORY 12 2026-11-28T09:15:02.012Z ann now",
	}, []Event{
		Registered{Nick: "duck"},
		Scrollback{Earlier: []Earlier{{9, at(9), "ann", "old"}}, Live: []Event{Message{From: "bob", Text: "early"}, Message{From: "bob", Text: "live"}}},
		Message{From: "ann", Text: "now"},
	}, "LIST\r\nHISTORY 2\r\n")
}

// Back after a lost connection, the session joins again, under nick_ if
// its nick is still taken after NickHeldFor, and asks for what it missed.
func TestReconnect(t *testing.T) {
	s, _ := NewSession("duck", 50)
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	checkHandled(t, s, []string{"JOINED duck", "HISTORY LIVE", "HISTORY END 0", "HISTORY 10 2026-11-28T09:15:02.010Z ann seen"},
		[]Event{Registered{Nick: "duck"}, Message{From: "ann", Text: "seen"}}, "LIST\r\nHISTORY 50\r\n")
	if got, want := string(s.Reconnect()), "NICK duck\r\nHISTORY LIVE\r\n"; got != want {
		t.Fatalf("Reconnect() = %q, want %q", got, want)
	}
	// Taken: by our lost connection, most likely. Ask again in a moment.
	checkHandled(t, s, []string{"ERR NICK_IN_USE the nick duck is taken"}, []Event{NickHeld{Nick: "duck"}}, "")
	if got, want := string(s.RetryNick()), "NICK duck\r\nHISTORY LIVE\r\n"; got != want {
		t.Fatalf("RetryNick() = %q, want %q", got, want)
	}
	if got := s.RetryNick(); got != nil {
		t.Fatalf("RetryNick() while asking = %q, want nil", got)
	}
	now = now.Add(NickHeldFor)
	checkHandled(t, s, []string{
		"ERR NICK_IN_USE the nick duck is taken",
		"JOINED duck_",
		"HISTORY LIVE",
		"HISTORY GAP 12",
		"HISTORY 12 2026-11-28T09:15:02.012Z ann missed",
		"HISTORY END 1",
	}, []Event{
		Hint{Text: "* the nick duck is taken; trying duck_"},
		Registered{Nick: "duck_", Again: true},
		Scrollback{Earlier: []Earlier{{12, at(12), "ann", "missed"}}, Gap: true},
	}, "NICK duck_\r\nHISTORY LIVE\r\nLIST\r\nHISTORY AFTER 10 1000000\r\n")
}

func TestHistoryCommand(t *testing.T) {
	s := registered(t)
	for _, c := range []struct{ in, send, hint string }{
		{"/history", "HISTORY 50\r\n", ""},
		{"/history 5", "HISTORY 5\r\n", ""},
		{"/history 0", "", "Usage: /history [N]"},
		{"/history x", "", "Usage: /history [N]"},
		{"/history 1 2", "", "Usage: /history [N]"},
	} {
		line, hint := s.Input(c.in)
		got, _ := hint.(Hint)
		if string(line) != c.send || !strings.Contains(got.Text, c.hint) {
			t.Errorf("Input(%q) = %q, %q; want %q and a hint with %q", c.in, line, got.Text, c.send, c.hint)
		}
	}
}

// The room's lines that come while a reply is awaited come out after it,
// in their order; a message said before and again in the moment before
// seqs is shown once each, in its place.
func TestHeldWhileAwaitingAReply(t *testing.T) {
	lines := []string{
		"JOINED duck",
		"MSG ann +1", // before the server sends seqs
		"HISTORY LIVE",
		"HISTORY 8 2026-11-28T09:15:02.008Z bob bye",
		"LEFT bob",
		"HISTORY 5 2026-11-28T09:15:02.005Z ann +1",
		"HISTORY 7 2026-11-28T09:15:02.007Z ann +1",
		"HISTORY 8 2026-11-28T09:15:02.008Z bob bye",
		"HISTORY END 3",
	}
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, lines, []Event{
		Registered{Nick: "duck"},
		Scrollback{
			Earlier: []Earlier{{5, at(5), "ann", "+1"}},
			Live:    []Event{Message{From: "ann", Text: "+1"}, Message{From: "bob", Text: "bye"}, Left{Nick: "bob"}},
		},
	}, "LIST\r\nHISTORY 50\r\n")
}

// A server without HISTORY refuses it, and nothing waits for its reply.
func TestServerWithoutHistory(t *testing.T) {
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, []string{
		"JOINED duck",
		"ERR UNKNOWN_COMMAND unknown command HISTORY; HELP lists the commands",
		"MSG ann hi",
	}, []Event{Registered{Nick: "duck"}, Message{From: "ann", Text: "hi"}}, "LIST\r\nHISTORY 50\r\n")
}
