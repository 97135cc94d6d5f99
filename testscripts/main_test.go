// Package testscripts runs the end-to-end scenarios, *.txtar, with
// testscript. The test binary doubles as the commands the scripts run (see
// TestMain); harness_test.go has the commands scripts use to talk to them,
// and samplelog_test.go the test of the committed sample server.log.
package testscripts

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"ircish/internal/clientcmd"
	"ircish/internal/servercmd"
	"ircish/ircish"
)

var update = flag.Bool("update", false, "rewrite the scripts' cmp files with what the commands wrote")

// TestMain makes the test binary the programs the scripts run, by name.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"server": func() { os.Exit(servercmd.Main(os.Args[1:], os.Stderr, configureForTests)) },
		"client": func() { os.Exit(clientcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t))
}

// scriptParams returns the parameters for running the scripts in this
// directory.
func scriptParams(t *testing.T) testscript.Params {
	p := testscript.Params{
		Dir:           ".",
		Setup:         setupHarness,
		Cmds:          scriptCommands(),
		UpdateScripts: *update,
	}
	if d, ok := t.Deadline(); ok {
		p.Deadline = d
	}
	return p
}

// configureForTests makes the server panic while it runs the MSG of a text
// holding PANIC-TEST, so that a scenario can see a real panic recovered,
// with no test hook in the server: the server logs each message as it
// handles it, and the log handler panics on that one.
func configureForTests(s *ircish.Server) {
	s.Log = slog.New(panicHandler{s.Log.Handler()})
}

// panicHandler is a slog.Handler that panics on a "message" record whose
// text holds PANIC-TEST.
type panicHandler struct{ slog.Handler }

func (h panicHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "message" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "text" && strings.Contains(a.Value.String(), "PANIC-TEST") {
				panic("PANIC-TEST: the test asked for a panic")
			}
			return true
		})
	}
	return h.Handler.Handle(ctx, r)
}

func (h panicHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return panicHandler{h.Handler.WithAttrs(attrs)}
}

func (h panicHandler) WithGroup(name string) slog.Handler {
	return panicHandler{h.Handler.WithGroup(name)}
}
