// Command server runs the ircish chat server; "server -h" tells how.
package main

import (
	"os"

	"ircish/internal/servercmd"
)

func main() {
	os.Exit(servercmd.Main(os.Args[1:], os.Stderr))
}
