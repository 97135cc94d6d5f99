package client

import (
	"fmt"
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
// It says once that it waits for its nick, however often it asks again.
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
	checkHandled(t, s, []string{"ERR NICK_IN_USE the nick duck is taken", "HISTORY LIVE"}, []Event{NickHeld{Nick: "duck"}}, "")
	for range 3 {
		if !s.AwaitsNick() {
			t.Fatalf("AwaitsNick() = false after NICK_IN_USE, want true")
		}
		if got, want := string(s.RetryNick()), "NICK duck\r\n"; got != want {
			t.Fatalf("RetryNick() = %q, want %q", got, want)
		}
		if got := s.RetryNick(); got != nil || s.AwaitsNick() {
			t.Fatalf("while asking, RetryNick() = %q and AwaitsNick() = %v; want nil and false", got, s.AwaitsNick())
		}
		checkHandled(t, s, []string{"ERR NICK_IN_USE the nick duck is taken"}, nil, "")
	}
	s.RetryNick()
	now = now.Add(NickHeldFor)
	checkHandled(t, s, []string{
		"ERR NICK_IN_USE the nick duck is taken",
		"JOINED duck_",
		"HISTORY GAP 12",
		"HISTORY 12 2026-11-28T09:15:02.012Z ann missed",
		"HISTORY END 1",
	}, []Event{
		Hint{Text: "* the nick duck is still taken after 15s; trying duck_"},
		Registered{Nick: "duck_", Again: true},
		Scrollback{Earlier: []Earlier{{12, at(12), "ann", "missed"}}, Gap: true},
	}, "NICK duck_\r\nLIST\r\nHISTORY AFTER 10 1000000\r\n")
	if s.AwaitsNick() {
		t.Errorf("AwaitsNick() = true once back, want false")
	}
}

func TestHistoryCommand(t *testing.T) {
	s := registered(t)
	if line, hint := s.Input("/history"); line != nil || !strings.Contains(fmt.Sprint(hint), "yet to say whether it keeps history") {
		t.Errorf("Input(/history) before the server's answer to HISTORY LIVE = %q, %#v; want only a hint to wait", line, hint)
	}
	s.Handle([]byte("HISTORY LIVE"))
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

// A server without HISTORY refuses it, or ignores it; either way the
// session asks for no messages, and the lines it held while it waited for
// the server's word come out, with nothing said of HISTORY.
func TestServerWithoutHistory(t *testing.T) {
	mallory := Message{From: "mallory", Text: "live words"}
	tests := []struct {
		name  string
		lines []string
		want  []Event
	}{
		{"refuses", []string{
			"WELCOME welcome to ircish! Say NICK <name> to join, HELP for help.",
			"JOINED duck",
			"MSG mallory live words",
			"ERR UNKNOWN_COMMAND No such command: HISTORY.",
			"LIST duck mallory",
		}, []Event{Registered{Nick: "duck"}, Scrollback{Live: []Event{mallory}}, Users{Nicks: []string{"duck", "mallory"}}}},
		{"ignores", []string{
			"JOINED duck",
			"MSG mallory live words",
			"LIST duck mallory", // the reply to the LIST sent after HISTORY LIVE
		}, []Event{Registered{Nick: "duck"}, Scrollback{Live: []Event{mallory, Users{Nicks: []string{"duck", "mallory"}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := NewSession("duck", 50)
			checkHandled(t, s, tt.lines, tt.want, "LIST\r\n")
			if s.AwaitsHistory() {
				t.Errorf("AwaitsHistory() = true, want false")
			}
			checkHandled(t, s, []string{"MSG ann hi"}, []Event{Message{From: "ann", Text: "hi"}}, "")
			if line, hint := s.Input("/history"); line != nil || hint != (Hint{Text: "This server keeps no history."}) {
				t.Errorf("Input(/history) = %q, %#v; want only a hint that there is none", line, hint)
			}
		})
	}
}

// Before NICK is accepted, a server without HISTORY refuses HISTORY LIVE
// as a command not allowed yet: that is not for the user to see.
func TestServerWithoutHistoryRefusesNick(t *testing.T) {
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, []string{"ERR NICK_IN_USE the nick duck is taken", "ERR NOT_REGISTERED say NICK <name> first"},
		[]Event{NickRefused{ServerError{Code: "NICK_IN_USE", Text: "the nick duck is taken"}}}, "")
	s.Input("/nick goose")
	checkHandled(t, s, []string{"JOINED goose", "MSG ann hi"}, []Event{Registered{Nick: "goose"}, Message{From: "ann", Text: "hi"}}, "LIST\r\n")
}

// A server that says nothing to HISTORY LIVE, and has yet to answer the
// LIST after it, may never answer: the caller times the wait, and the
// lines held come out when it ends.
func TestHistoryTimedOut(t *testing.T) {
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, []string{"JOINED duck", "MSG mallory live words"}, []Event{Registered{Nick: "duck"}}, "LIST\r\n")
	if !s.AwaitsHistory() {
		t.Fatalf("AwaitsHistory() = false while lines are held, want true")
	}
	if got, want := s.ReleaseHeld(), (Scrollback{Live: []Event{Message{From: "mallory", Text: "live words"}}}); !reflect.DeepEqual(got, want) {
		t.Errorf("ReleaseHeld() = %#v, want %#v", got, want)
	}
	if s.AwaitsHistory() || s.ReleaseHeld() != nil {
		t.Errorf("after ReleaseHeld, AwaitsHistory() = %v, want false, and nothing more held", s.AwaitsHistory())
	}
	checkHandled(t, s, []string{"MSG ann hi", "LIST duck"}, []Event{Message{From: "ann", Text: "hi"}, Users{Nicks: []string{"duck"}}}, "")
}

// When the connection ends before a reply does, the lines held for it
// come out: they came live.
func TestReleaseHeldAtTheEnd(t *testing.T) {
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, []string{"JOINED duck", "HISTORY LIVE", "HISTORY 8 2026-11-28T09:15:02.008Z ann bye all", "LEFT ann"},
		[]Event{Registered{Nick: "duck"}}, "LIST\r\nHISTORY 50\r\n")
	want := Scrollback{Live: []Event{Message{From: "ann", Text: "bye all"}, Left{Nick: "ann"}}}
	if got := s.ReleaseHeld(); !reflect.DeepEqual(got, want) {
		t.Errorf("ReleaseHeld() = %#v, want %#v", got, want)
	}
}

// Back on a server without HISTORY, the session asks for none of what it
// missed: it cannot have it.
func TestReconnectToServerWithoutHistory(t *testing.T) {
	s, _ := NewSession("duck", 50)
	checkHandled(t, s, []string{"JOINED duck", "HISTORY LIVE", "HISTORY END 0", "HISTORY 10 2026-11-28T09:15:02.010Z ann seen"},
		[]Event{Registered{Nick: "duck"}, Message{From: "ann", Text: "seen"}}, "LIST\r\nHISTORY 50\r\n")
	s.Reconnect()
	checkHandled(t, s, []string{"JOINED duck", "ERR UNKNOWN_COMMAND unknown command HISTORY", "MSG ann back"},
		[]Event{Registered{Nick: "duck", Again: true}, Message{From: "ann", Text: "back"}}, "LIST\r\n")
}

// /search asks for the messages with every word, once the server has
// HISTORY; its reply comes as Found, with the lines that came live while
// it was on its way, and a refusal ends it.
func TestSearch(t *testing.T) {
	s, _ := NewSession("duck", 0)
	checkHandled(t, s, []string{"JOINED duck"}, []Event{Registered{Nick: "duck"}}, "LIST\r\n")
	if line, hint := s.Input("/search quick"); line != nil || !strings.Contains(fmt.Sprint(hint), "yet to say whether it keeps history") {
		t.Errorf("Input(/search quick) before the server's answer to HISTORY LIVE = %q, %#v; want only a hint to wait", line, hint)
	}
	checkHandled(t, s, []string{"HISTORY LIVE"}, nil, "")
	for _, c := range []struct{ in, line, hint string }{
		{"/search", "", "Usage: /search WORDS"},
		{"/search !! *", "", "Usage: /search WORDS"},
		{"/search  quick   fox ", "HISTORY SEARCH quick fox\r\n", ""},
	} {
		line, hint := s.Input(c.in)
		if string(line) != c.line || c.hint != "" && !strings.Contains(fmt.Sprint(hint), c.hint) || c.hint == "" && hint != nil {
			t.Errorf("Input(%q) = %q, %#v; want %q, a hint %q", c.in, line, hint, c.line, c.hint)
		}
	}
	s.Input("/history 1") // awaited after the search
	checkHandled(t, s, []string{
		"HISTORY 20 2026-11-28T09:15:02.020Z ann live one",
		"JOINED bob",
		"HISTORY 9 2026-11-28T09:15:02.009Z ann the quick fox",
		"HISTORY END 1",
		"HISTORY 20 2026-11-28T09:15:02.020Z ann live one",
		"HISTORY END 1",
		"HISTORY 21 2026-11-28T09:15:02.021Z ann live two",
	}, []Event{
		Found{Query: "quick fox", Messages: []Earlier{{9, at(9), "ann", "the quick fox"}}, Live: []Event{Message{From: "ann", Text: "live one"}, Joined{Nick: "bob"}}},
		Scrollback{Earlier: []Earlier{{20, at(20), "ann", "live one"}}}, // what /history 1 asked for
		Message{From: "ann", Text: "live two"},
	}, "")
	s.Input("/search zebra")
	checkHandled(t, s, []string{
		"HISTORY END 0",
	}, []Event{Found{Query: "zebra"}}, "")
	s.Input("/search zebra")
	checkHandled(t, s, []string{
		"HISTORY 22 2026-11-28T09:15:02.022Z ann live three",
		"ERR TIMEOUT the search did not finish: try again",
		"HISTORY 23 2026-11-28T09:15:02.023Z ann live four",
	}, []Event{
		Found{Live: []Event{Message{From: "ann", Text: "live three"}, ServerError{Code: "TIMEOUT", Text: "the search did not finish: try again"}}},
		Message{From: "ann", Text: "live four"},
	}, "")
	r := Renderer{}
	want := "[earlier 2026-11-28 09:15:02] <ann> the quick fox\n-- 1 message found for \"quick fox\" --"
	if got := r.Render(Found{Query: "quick fox", Messages: []Earlier{{9, at(9).In(time.Local), "ann", "the quick fox"}}}); got != want {
		t.Errorf("Render(Found) = %q, want %q", got, want)
	}
	if got, want := r.Render(Found{Query: "zebra"}), "-- no message holds every word of \"zebra\" --"; got != want {
		t.Errorf("Render(Found nothing) = %q, want %q", got, want)
	}
}
