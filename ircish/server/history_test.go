package server

import (
	"fmt"
	"ircish/internal/chattest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// texts returns the "from text" of the HISTORY lines of messages among
// lines.
func texts(lines []string) []string {
	var out []string
	for _, line := range lines {
		if m := chattest.HistoryLine.FindStringSubmatch(line); m != nil {
			out = append(out, m[2]+" "+m[3])
		}
	}
	return out
}

func seqOf(t *testing.T, line string) int64 {
	m := chattest.HistoryLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%q is not a HISTORY line of a message", line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func TestHistory(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1, Keep: 4})
	ann := chattest.Register(t, addr, "ann")
	bob := chattest.Register(t, addr, "bob")
	ann.Send("MSG one")
	bob.Send("WHISPER ann a secret")
	ann.Send("MSG  two  spaces ")
	ann.Send("NICK anna")
	ann.Expect("^RENAMED ann anna$")
	bob.Send("MSG three")
	bob.Expect("^MSG bob three$")
	cid := chattest.Register(t, addr, "cid")

	for _, c := range []struct {
		args string
		want string
	}{
		{"", "ann one|ann two  spaces |bob three"},
		{"2", "ann two  spaces |bob three"},
		{"0", ""},
		{"99999999999999999999999", "ann one|ann two  spaces |bob three"},
	} {
		if got := strings.Join(texts(cid.AskHistory(c.args)), "|"); got != c.want {
			t.Errorf("HISTORY %s: messages %q, want %q", c.args, got, c.want)
		}
	}

	all := cid.AskHistory("")
	first, last := seqOf(t, all[0]), seqOf(t, all[2])
	if last != first+2 {
		t.Errorf("seqs %d..%d, want three in a row", first, last)
	}
	if got := strings.Join(texts(cid.AskHistory(fmt.Sprintf("AFTER %d", first))), "|"); got != "ann two  spaces |bob three" {
		t.Errorf("HISTORY AFTER the first: %q, want the two after it", got)
	}
	if got := strings.Join(texts(cid.AskHistory(fmt.Sprintf("after %d 1", first))), "|"); got != "ann two  spaces " {
		t.Errorf("HISTORY after the first 1: %q, want the one after it", got)
	}
	if got := cid.AskHistory(fmt.Sprintf("AFTER %d", last)); len(got) != 0 {
		t.Errorf("HISTORY AFTER the last: %q, want nothing", got)
	}

	// Two more overflow the ring of 4: the first is gone, and AFTER a seq
	// before it says so.
	bob.Send("MSG four")
	bob.Send("MSG five")
	bob.Expect("^MSG bob five$")
	reply := cid.AskHistory(fmt.Sprintf("AFTER %d", first-1))
	if want := fmt.Sprintf("HISTORY GAP %d", first+1); len(reply) == 0 || reply[0] != want {
		t.Errorf("HISTORY AFTER a dropped seq: %q, want %q first", reply, want)
	}
	if got := strings.Join(texts(reply), "|"); got != "ann two  spaces |bob three|bob four|bob five" {
		t.Errorf("HISTORY AFTER a dropped seq: messages %q, want the four kept", got)
	}
}

func TestHistoryBadInput(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1})
	newcomer := chattest.Dial(t, addr, "newcomer")
	newcomer.Send("HISTORY")
	newcomer.Expect("^ERR NOT_REGISTERED ")
	ann := chattest.Register(t, addr, "ann")
	for _, c := range []struct{ args, want string }{
		{"-1", "^ERR BAD_PARAM "},
		{"abc", "^ERR BAD_PARAM "},
		{"AFTER", "^ERR NEED_MORE_PARAMS "},
		{"AFTER x", "^ERR BAD_PARAM "},
		{"AFTER -3", "^ERR BAD_PARAM "},
		{"AFTER 5 -1", "^ERR BAD_PARAM "},
	} {
		ann.Send("HISTORY " + c.args)
		if line := ann.Expect("^(ERR|HISTORY) "); !regexp.MustCompile(c.want).MatchString(line) {
			t.Errorf("HISTORY %s: got %q, want %s", c.args, line, c.want)
		}
	}
}

func TestHistoryOff(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1, Keep: -1})
	ann := chattest.Register(t, addr, "ann")
	ann.Send("MSG hi")
	if got := ann.AskHistory(""); len(got) != 0 {
		t.Errorf("HISTORY with history off: %q, want nothing", got)
	}
}

// The seam of a HISTORY reply with live lines is exact: asked in the
// middle of a flood, the reply and the lines after its END hold every
// message once, in order.
func TestHistorySeamUnderFlood(t *testing.T) {
	const most = 3000
	addr := startServer(t, &Server{FloodRate: -1, Keep: most + 1})
	flooder := chattest.Register(t, addr, "flooder")
	joiner := chattest.Dial(t, addr, "joiner")
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; i < most; i++ {
			select {
			case <-stop:
				return
			default:
				fmt.Fprintf(flooder.NetConn, "MSG %d\n", i)
			}
		}
	}()
	flooder.Expect("^MSG flooder 200$")
	joiner.Send("NICK joiner")
	joiner.Expect("^JOINED joiner$")
	reply := joiner.AskHistory(strconv.Itoa(most + 1))
	close(stop) // the flood goes on until the reply has come
	<-flooded
	flooder.Send("MSG end") // said after the reply, so live
	got := texts(reply)
	for len(got) == 0 || got[len(got)-1] != "flooder end" {
		got = append(got, strings.TrimPrefix(joiner.Expect("^MSG flooder "), "MSG "))
	}
	for i, line := range got[:len(got)-1] {
		if want := fmt.Sprintf("flooder %d", i); line != want {
			t.Fatalf("message %d of the reply and the lines after it is %q, want %q; %d of them came in the reply", i, line, want, len(texts(reply)))
		}
	}
}

// After HISTORY LIVE, even before NICK, messages come as HISTORY lines,
// with the seqs that HISTORY gives them.
func TestHistoryLive(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1})
	ann, bob := chattest.Register(t, addr, "ann"), chattest.Dial(t, addr, "bob")
	bob.Send("HISTORY LIVE\nNICK bob") // seqs asked for before NICK
	bob.Expect("^HISTORY LIVE$")
	bob.Expect("^JOINED bob$")
	ann.Send("MSG hi")
	live := bob.Expect("^(HISTORY|MSG) ")
	ann.Expect("^MSG ann hi$") // ann did not ask
	if kept := bob.AskHistory("1"); len(kept) != 1 || kept[0] != live {
		t.Errorf("live line %q, HISTORY 1 gives %q: want the same line", live, kept)
	}
	cid := chattest.Register(t, addr, "cid")
	cid.Send("history live")
	cid.Expect("^HISTORY LIVE$")
	ann.Send("MSG again")
	if line := cid.Expect("^(HISTORY|MSG) "); seqOf(t, line) != seqOf(t, live)+1 {
		t.Errorf("after %q came %q, want the next seq", live, line)
	}
}
