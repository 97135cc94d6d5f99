package servercmd

// Operators: the -ops file, and "server hash-password", which makes its
// lines.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/term"

	"ircish/ircish"
	"ircish/ircish/password"
)

// loadOps reads an -ops file: a line "<name> <argon2id hash>" per
// operator; blank lines and lines starting with # aside. Its errors name
// the file and the line.
func loadOps(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ops := make(map[string]string)
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", path, i+1, fmt.Sprintf(format, args...))
		}
		name, hash, ok := strings.Cut(line, " ")
		hash = strings.TrimSpace(hash)
		switch {
		case !ok || hash == "":
			return nil, bad("want <name> <argon2id hash> (server hash-password NAME makes one)")
		case ircish.CheckNick(name) != nil:
			return nil, bad("operator name %q: a name is as a nick is", name)
		case ops[name] != "":
			return nil, bad("operator %s named twice", name)
		}
		if err := password.Valid(hash); err != nil {
			return nil, bad("%v", err)
		}
		ops[name] = hash
	}
	return ops, nil
}

// reloadOps reads -ops again, if given, and makes its operators the
// server's; if the file is bad, the server keeps those it had, and says
// why.
func reloadOps(cfg *config, log *slog.Logger) {
	if cfg.opsPath == "" {
		return
	}
	ops, err := loadOps(cfg.opsPath)
	if err != nil {
		log.Error("cannot read operators; keeping those before", "err", err)
		return
	}
	cfg.srv.SetOperators(ops)
	log.Info("operators read", "file", cfg.opsPath, "count", len(ops))
}

// hashPassword is "server hash-password NAME": it reads a password, from
// the terminal without echo (twice) or the first line of stdin, and
// prints an -ops line for the operator NAME.
func hashPassword(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) != 1 || ircish.CheckNick(args[0]) != nil {
		fmt.Fprintln(stderr, "usage: server hash-password NAME  (NAME as a nick; the password from the terminal or stdin)")
		return 2
	}
	pw, err := readPassword(stdin, stderr)
	if err == nil && (len(pw) < password.MinLen || len(pw) > password.MaxLen) {
		err = fmt.Errorf("a password is %d to %d bytes", password.MinLen, password.MaxLen)
	}
	if err != nil {
		fmt.Fprintln(stderr, "server:", err)
		return 1
	}
	fmt.Fprintln(stdout, args[0], password.Hash(pw))
	return 0
}

// readPassword reads a password from the terminal, asking twice, or the
// first line of stdin.
func readPassword(stdin *os.File, stderr io.Writer) (string, error) {
	fd := int(stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", errors.New("no password on standard input")
		}
		// Trailing spaces are dropped, as the server drops them from
		// the passwords typed in OPER.
		return strings.TrimRight(line, "\r\n "), nil
	}
	var pws [2]string
	for i, prompt := range []string{"Password: ", "Again: "} {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(stderr)
		if err != nil {
			return "", err
		}
		pws[i] = strings.TrimRight(string(b), " ")
	}
	if pws[0] != pws[1] {
		return "", errors.New("the passwords differ")
	}
	return pws[0], nil
}
