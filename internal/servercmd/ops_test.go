package servercmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -ops file: good lines are taken, and a bad one is refused with the
// file's name and its line's number.
func TestLoadOps(t *testing.T) {
	const hash = "$argon2id$v=19$m=32768,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0"
	for _, c := range []struct {
		file, err string
		ops       int
	}{
		{"# operators\n\nada " + hash + "\n  bob   " + hash + "  \n", "", 2},
		{"", "", 0},
		{"ada\n", "ops.txt:1: want <name> <argon2id hash>", 0},
		{"# x\nada " + hash + "\nada " + hash + "\n", "ops.txt:3: operator ada named twice", 0},
		{"a/b " + hash + "\n", `ops.txt:1: operator name "a/b"`, 0},
		{"ada secret\n", "ops.txt:1: password: not an argon2id hash", 0},
		{"ada $argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHRzYWx0$mCkJ8hqBGcFTF4Hv1EOO92apHnbZUXjxzr5OqlPcRR0\n", "ops.txt:1: password: not an argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash): parameters", 0},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "ops.txt")
		if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
			t.Fatal(err)
		}
		ops, err := loadOps(path)
		switch {
		case c.err == "" && (err != nil || len(ops) != c.ops):
			t.Errorf("loadOps(%q) = %d operators, %v; want %d", c.file, len(ops), err, c.ops)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.err))):
			t.Errorf("loadOps(%q) = %v, want an error with %q", c.file, err, c.err)
		}
	}
}
