package testscripts

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"ircish/internal/natstest"
)

// A server killed with SIGKILL: everyone else sees its users leave within
// 10 s. The test kills one ten times (three with -short) and logs how long
// each took.
func TestKilledServerUsersLeave(t *testing.T) {
	runs := 10
	if testing.Short() {
		runs = 3
	}
	dir := t.TempDir()
	ns, err := natstest.Start(filepath.Join(dir, "nats"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Stop)
	_, observer := startServer(t, dir, "s2", ns.URL())
	bob := chat(t, observer, "bob")
	var took []time.Duration
	for i := range runs {
		name := fmt.Sprint("s1-", i+1)
		s1, addr := startServer(t, dir, name, ns.URL())
		chat(t, addr, "ann")
		bob.await(t, "JOINED ann")
		// Killed before s2 has heard it, s1 would be lost as one never
		// heard: that takes less.
		id := awaitFile(t, filepath.Join(dir, name+".log"), `msg="joined cluster" .* id=(\w+) `)
		awaitFile(t, filepath.Join(dir, "s2.log"), `msg="server found" node=\S+ id=`+id+`\n`)
		start := time.Now()
		if err := s1.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		bob.await(t, "LEFT ann server lost")
		took = append(took, time.Since(start))
		s1.Wait()
		t.Logf("run %d: ann left %v after the kill", i+1, took[i].Round(time.Millisecond))
	}
	slices.Sort(took)
	t.Logf("%d runs: from %v to %v, median %v", runs, took[0].Round(time.Millisecond), took[runs-1].Round(time.Millisecond), took[runs/2].Round(time.Millisecond))
	if took[runs-1] > 10*time.Second {
		t.Errorf("the slowest LEFT came %v after the kill, want 10s at most", took[runs-1])
	}
}

// startServer starts the server command in dir, logging to dir/name.log,
// in the cluster of the NATS server at url, and returns it and its address.
// It is killed when the test ends.
func startServer(t *testing.T, dir, name, url string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command("server", "-host", "127.0.0.1", "-quiet", "-log-flush", "0", "-log", filepath.Join(dir, name+".log"), "-nats", url, "0")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				lines <- addr
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case addr := <-lines:
		return cmd, addr
	case <-time.After(killTestTimeout):
		t.Fatalf("%s: no \"listening on\" line within %v", name, killTestTimeout)
	}
	return nil, ""
}

// killTestTimeout bounds each wait of TestKilledServerUsersLeave.
const killTestTimeout = 20 * time.Second

// A chatter is a registered protocol connection.
type chatter struct {
	conn  net.Conn
	lines *bufio.Scanner
}

func chat(t *testing.T, addr, nick string) *chatter {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &chatter{conn, bufio.NewScanner(conn)}
	io.WriteString(conn, "NICK "+nick+"\r\n")
	c.await(t, "JOINED "+nick)
	return c
}

// await reads lines until want, failing after killTestTimeout.
func (c *chatter) await(t *testing.T, want string) {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(killTestTimeout))
	var seen []string
	for c.lines.Scan() {
		if c.lines.Text() == want {
			return
		}
		seen = append(seen, c.lines.Text())
	}
	t.Fatalf("waited for %q: %v; lines before: %q", want, c.lines.Err(), seen)
}

// awaitFile waits until the file holds a match of pattern, and returns
// what its first group matched, if it has one.
func awaitFile(t *testing.T, file, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	tick := time.NewTicker(waitfilePoll)
	defer tick.Stop()
	deadline := time.After(killTestTimeout)
	for {
		data, _ := os.ReadFile(file)
		if m := re.FindSubmatch(data); m != nil {
			return string(m[len(m)-1])
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no line matching %q in %s within %v", pattern, file, killTestTimeout)
		}
	}
}
