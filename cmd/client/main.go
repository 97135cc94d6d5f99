// Command client is the ircish chat client; "client -h" tells how.
package main

import (
	"os"

	"ircish/internal/clientcmd"
)

func main() {
	os.Exit(clientcmd.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
