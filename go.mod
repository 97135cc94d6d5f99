module ircish

go 1.26.8

require (
	github.com/creack/pty v1.1.24
	github.com/ergochat/readline v0.1.3
	github.com/google/shlex v0.0.0-20191202100458-e7afc7fbc510
	github.com/rogpeppe/go-internal v1.16.0
	golang.org/x/term v0.47.0
	golang.org/x/text v0.43.0
	golang.org/x/time v0.16.0
)

require (
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
)
