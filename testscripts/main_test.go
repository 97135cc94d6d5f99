// Package testscripts runs the end-to-end scenarios, *.txtar, with
// testscript. The test binary doubles as the commands the scripts run (see
// TestMain); harness_test.go has the commands scripts use to talk to them,
// and samplelog_test.go the test of the committed sample server.log.
package testscripts

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"ircish/internal/clientcmd"
	"ircish/internal/servercmd"
)

var update = flag.Bool("update", false, "rewrite the scripts' cmp files with what the commands wrote")

// TestMain makes the test binary the programs the scripts run, by name.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"server": func() { os.Exit(servercmd.Main(os.Args[1:], os.Stderr)) },
		"client": func() { os.Exit(clientcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, scriptParams(t, false))
}

// The same scripts, with every server in cluster mode: the room's records
// go through a NATS server that the script starts. A script may say
// [cluster] or [!cluster] to do something in one run only.
func TestScriptsClustered(t *testing.T) {
	testscript.Run(t, scriptParams(t, true))
}

// scriptParams returns the parameters for running the scripts in this
// directory, clustered or not.
func scriptParams(t *testing.T, clustered bool) testscript.Params {
	p := testscript.Params{
		Dir:   ".",
		Setup: setupHarness(clustered),
		Condition: func(cond string) (bool, error) {
			if cond == "cluster" {
				return clustered, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds:          scriptCommands(),
		UpdateScripts: *update,

		RequireExplicitExec: true, // "exec server", so a program is never mistaken for a command
		RequireUniqueNames:  true, // a script cannot hold two files of one name
	}
	if d, ok := t.Deadline(); ok {
		p.Deadline = d
	}
	return p
}
