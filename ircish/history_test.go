package ircish

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// historyLine matches a HISTORY line of a message, and captures its seq,
// sender and text.
var historyLine = regexp.MustCompile(`^HISTORY (\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) (.*)$`)

// askHistory sends a HISTORY command and returns the lines of the reply
// before its END, checking that END counts the messages.
func (c *testConn) askHistory(args string) []string {
	c.t.Helper()
	c.send(strings.TrimSpace("HISTORY " + args))
	start := len(c.seen)
	end := c.expect(`^HISTORY (END|GAP|\d+) `)
	var reply []string
	for ; !strings.HasPrefix(end, "HISTORY END "); end = c.expect("^HISTORY ") {
		reply = append(reply, end)
	}
	messages := 0
	for _, line := range reply {
		if historyLine.MatchString(line) {
			messages++
		}
	}
	if want := fmt.Sprintf("HISTORY END %d", messages); end != want {
		c.t.Fatalf("%s: HISTORY %s ended with %q, want %q; lines since: %q", c.name, args, end, want, c.seen[start:])
	}
	return reply
}

// texts returns the "from text" of the HISTORY lines of messages among
// lines.
func texts(lines []string) []string {
	var out []string
	for _, line := range lines {
		if m := historyLine.FindStringSubmatch(line); m != nil {
			out = append(out, m[2]+" "+m[3])
		}
	}
	return out
}

func seqOf(t *testing.T, line string) int64 {
	m := historyLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("%q is not a HISTORY line of a message", line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func TestHistory(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1, History: 4})
	ann := register(t, addr, "ann")
	bob := register(t, addr, "bob")
	ann.send("MSG one")
	bob.send("WHISPER ann a secret")
	ann.send("MSG  two  spaces ")
	ann.send("NICK anna")
	ann.expect("^RENAMED ann anna$")
	bob.send("MSG three")
	bob.expect("^MSG bob three$")
	cid := register(t, addr, "cid")

	for _, c := range []struct {
		args string
		want string
	}{
		{"", "ann one|ann two  spaces |bob three"},
		{"2", "ann two  spaces |bob three"},
		{"0", ""},
		{"99999999999999999999999", "ann one|ann two  spaces |bob three"},
	} {
		if got := strings.Join(texts(cid.askHistory(c.args)), "|"); got != c.want {
			t.Errorf("HISTORY %s: messages %q, want %q", c.args, got, c.want)
		}
	}

	all := cid.askHistory("")
	first, last := seqOf(t, all[0]), seqOf(t, all[2])
	if last != first+2 {
		t.Errorf("seqs %d..%d, want three in a row", first, last)
	}
	if got := strings.Join(texts(cid.askHistory(fmt.Sprintf("AFTER %d", first))), "|"); got != "ann two  spaces |bob three" {
		t.Errorf("HISTORY AFTER the first: %q, want the two after it", got)
	}
	if got := strings.Join(texts(cid.askHistory(fmt.Sprintf("after %d 1", first))), "|"); got != "ann two  spaces " {
		t.Errorf("HISTORY after the first 1: %q, want the one after it", got)
	}
	if got := cid.askHistory(fmt.Sprintf("AFTER %d", last)); len(got) != 0 {
		t.Errorf("HISTORY AFTER the last: %q, want nothing", got)
	}

	// Two more overflow the ring of 4: the first is gone, and AFTER a seq
	// before it says so.
	bob.send("MSG four")
	bob.send("MSG five")
	bob.expect("^MSG bob five$")
	reply := cid.askHistory(fmt.Sprintf("AFTER %d", first-1))
	if want := fmt.Sprintf("HISTORY GAP %d", first+1); len(reply) == 0 || reply[0] != want {
		t.Errorf("HISTORY AFTER a dropped seq: %q, want %q first", reply, want)
	}
	if got := strings.Join(texts(reply), "|"); got != "ann two  spaces |bob three|bob four|bob five" {
		t.Errorf("HISTORY AFTER a dropped seq: messages %q, want the four kept", got)
	}
}

func TestHistoryBadInput(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1})
	newcomer := dial(t, addr, "newcomer")
	newcomer.send("HISTORY")
	newcomer.expect("^ERR NOT_REGISTERED ")
	ann := register(t, addr, "ann")
	for _, c := range []struct{ args, want string }{
		{"-1", "^ERR BAD_PARAM "},
		{"abc", "^ERR BAD_PARAM "},
		{"AFTER", "^ERR NEED_MORE_PARAMS "},
		{"AFTER x", "^ERR BAD_PARAM "},
		{"AFTER -3", "^ERR BAD_PARAM "},
		{"AFTER 5 -1", "^ERR BAD_PARAM "},
	} {
		ann.send("HISTORY " + c.args)
		if line := ann.expect("^(ERR|HISTORY) "); !regexp.MustCompile(c.want).MatchString(line) {
			t.Errorf("HISTORY %s: got %q, want %s", c.args, line, c.want)
		}
	}
}

func TestHistoryOff(t *testing.T) {
	addr := startServer(t, &Server{FloodRate: -1, History: -1})
	ann := register(t, addr, "ann")
	ann.send("MSG hi")
	if got := ann.askHistory(""); len(got) != 0 {
		t.Errorf("HISTORY with history off: %q, want nothing", got)
	}
}

// The seam of a HISTORY reply with live lines is exact: asked in the
// middle of a flood, the reply and the lines after its END hold every
// message once, in order.
func TestHistorySeamUnderFlood(t *testing.T) {
	const most = 3000
	addr := startServer(t, &Server{FloodRate: -1, History: most + 1})
	flooder := register(t, addr, "flooder")
	joiner := dial(t, addr, "joiner")
	stop := make(chan struct{})
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for i := 0; i < most; i++ {
			select {
			case <-stop:
				return
			default:
				fmt.Fprintf(flooder.conn, "MSG %d\n", i)
			}
		}
	}()
	flooder.expect("^MSG flooder 200$")
	joiner.send("NICK joiner")
	joiner.expect("^JOINED joiner$")
	reply := joiner.askHistory(strconv.Itoa(most + 1))
	close(stop) // the flood goes on until the reply has come
	<-flooded
	flooder.send("MSG end") // said after the reply, so live
	got := texts(reply)
	for len(got) == 0 || got[len(got)-1] != "flooder end" {
		got = append(got, strings.TrimPrefix(joiner.expect("^MSG flooder "), "MSG "))
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
	ann, bob := register(t, addr, "ann"), dial(t, addr, "bob")
	bob.send("HISTORY LIVE\nNICK bob") // seqs asked for before NICK
	bob.expect("^HISTORY LIVE$")
	bob.expect("^JOINED bob$")
	ann.send("MSG hi")
	live := bob.expect("^(HISTORY|MSG) ")
	ann.expect("^MSG ann hi$") // ann did not ask
	if kept := bob.askHistory("1"); len(kept) != 1 || kept[0] != live {
		t.Errorf("live line %q, HISTORY 1 gives %q: want the same line", live, kept)
	}
	cid := register(t, addr, "cid")
	cid.send("history live")
	cid.expect("^HISTORY LIVE$")
	ann.send("MSG again")
	if line := cid.expect("^(HISTORY|MSG) "); seqOf(t, line) != seqOf(t, live)+1 {
		t.Errorf("after %q came %q, want the next seq", live, line)
	}
}
