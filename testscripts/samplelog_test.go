package testscripts

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var updateSample = flag.Bool("update-sample", false, "rewrite the sample "+samplePath+" by running sample_log.txtar")

// samplePath is the sample server.log, at the top of the repository.
const samplePath = "../server.log"

// moreEvents are the log events, by msg, and their keys that the sample
// scenario does not produce: failures, and optional keys.
var moreEvents = map[string][]string{
	"panic":                  {"remote", "nick", "panic", "stack"},
	"read error":             {"remote", "nick", "err"},
	"command failed":         {"remote", "nick", "err"},
	"accept failed":          {"err", "retry_in"},
	"connection refused":     {"remote", "err"},
	"refusals not logged":    {"count"},
	"tls handshake failed":   {"remote", "err"},
	"signal received":        {"signal"},
	"log reopened":           {},
	"cannot reopen log":      {"err"},
	"log records dropped":    {"count"},
	"history":                {"remote", "nick", "asked", "sent"},
	"whisper":                {"text"}, // with -log-whispers
	"cannot open store":      {"file", "err"},
	"store write failed":     {"file", "err"},
	"store messages dropped": {"file", "count"},
	"cannot write store":     {"file", "err"},
	"search failed":          {"remote", "nick", "err"},

	// After a second SIGINT or SIGTERM, which a server run from the
	// repository's root may get.
	"second signal, exiting now": {"signal"},
}

// TestSampleLog runs sample_log.txtar and checks that every line of the
// sample log is one the server could write today: slog's text format, a
// msg the server logs, with keys it logs for that msg. What the server logs
// is learnt from the scenario's own log, and moreEvents. Someone running
// the server in the repository's root appends to the sample, which does no
// harm: those lines are valid too. With -update-sample, the test rewrites
// the sample from the scenario's log instead.
func TestSampleLog(t *testing.T) {
	fresh := runSample(t)
	known := make(map[string]map[string]bool) // msg → keys
	for i, line := range lines(fresh) {
		fields, err := parseLogLine(line)
		if err != nil {
			t.Fatalf("sample_log.txtar's server.log:%d: %v\n\t%s", i+1, err, line)
		}
		addEvent(known, fields[2].value, fields[3:])
	}
	scenarioMsgs := slices.Sorted(maps.Keys(known))
	for msg, keys := range moreEvents {
		var fields []logField
		for _, k := range keys {
			fields = append(fields, logField{key: k})
		}
		addEvent(known, msg, fields)
	}
	// An event about a client names its nick once it has one, whatever
	// the scenario happened to log.
	for _, keys := range known {
		if keys["remote"] {
			keys["nick"] = true
		}
	}

	if *updateSample {
		if err := os.WriteFile(samplePath, fresh, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", samplePath)
		return
	}
	sample, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for i, line := range lines(sample) {
		if err := checkLogLine(line, known); err != nil {
			t.Errorf("%s:%d: %v\n\t%s", samplePath, i+1, err, line)
			continue
		}
		fields, _ := parseLogLine(line)
		seen[fields[2].value] = true
	}
	// A sample cut short is no sample: it shows all the scenario does.
	for _, msg := range scenarioMsgs {
		if !seen[msg] {
			t.Errorf("%s has no line with msg=%q, which sample_log.txtar logs", samplePath, msg)
		}
	}
	if t.Failed() {
		t.Log("go test ./testscripts -run TestSampleLog -update-sample rewrites the sample")
	}
}

// lines returns the lines of a log.
func lines(log []byte) []string {
	if len(log) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
}

// runSample runs sample_log.txtar and returns the server.log it leaves.
func runSample(t *testing.T) []byte {
	out := filepath.Join(t.TempDir(), "server.log")
	var copyErr error
	p := scriptParams(t, false)
	p.Dir, p.Files = "", []string{"sample_log.txtar"}
	setup := p.Setup
	p.Setup = func(e *testscript.Env) error {
		// Deferred first, so run last: after the harness has stopped the server.
		e.Defer(func() {
			data, err := os.ReadFile(filepath.Join(e.WorkDir, "server.log"))
			if err == nil {
				err = os.WriteFile(out, data, 0o644)
			}
			copyErr = err
		})
		return setup(e)
	}
	// testscript.Run's subtests are parallel: t.Run waits for them.
	t.Run("run", func(t *testing.T) { testscript.Run(t, p) })
	if t.Failed() {
		t.FailNow()
	}
	if copyErr != nil {
		t.Fatalf("copying the scenario's server.log: %v", copyErr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func addEvent(known map[string]map[string]bool, msg string, fields []logField) {
	keys := known[msg]
	if keys == nil {
		keys = make(map[string]bool)
		known[msg] = keys
	}
	for _, f := range fields {
		keys[f.key] = true
	}
}

// checkLogLine checks that line is one the server could write: time, level
// and msg first, then keys known for that msg.
func checkLogLine(line string, known map[string]map[string]bool) error {
	fields, err := parseLogLine(line)
	if err != nil {
		return err
	}
	if _, err := time.Parse(time.RFC3339Nano, fields[0].value); err != nil {
		return fmt.Errorf("bad time: %v", err)
	}
	switch fields[1].value {
	case "DEBUG", "INFO", "WARN", "ERROR":
	default:
		return fmt.Errorf("unknown level %q", fields[1].value)
	}
	msg := fields[2].value
	keys, ok := known[msg]
	if !ok {
		return fmt.Errorf("the server logs no msg %q", msg)
	}
	for _, f := range fields[3:] {
		if !keys[f.key] {
			return fmt.Errorf("the server logs msg %q without a key %q", msg, f.key)
		}
	}
	return nil
}

type logField struct{ key, value string }

// parseLogLine splits a line of slog's text format into its fields, and
// checks that it starts with time, level and msg.
func parseLogLine(line string) ([]logField, error) {
	var fields []logField
	for s := line; s != ""; {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, ` "`) {
			return nil, fmt.Errorf("want key=value at %q", s)
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			quoted, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("bad quoted value of %s: %v", key, err)
			}
			value, _ = strconv.Unquote(quoted)
			rest = rest[len(quoted):]
		} else {
			i := strings.IndexByte(rest, ' ')
			if i < 0 {
				i = len(rest)
			}
			value, rest = rest[:i], rest[i:]
		}
		if rest != "" && !strings.HasPrefix(rest, " ") {
			return nil, fmt.Errorf("want a space after the value of %s", key)
		}
		fields = append(fields, logField{key, value})
		s = strings.TrimPrefix(rest, " ")
	}
	if len(fields) < 3 || fields[0].key != "time" || fields[1].key != "level" || fields[2].key != "msg" {
		return nil, fmt.Errorf("want time=, level= and msg= first")
	}
	return fields, nil
}
