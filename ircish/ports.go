package ircish

// The ports a server listens on unless told otherwise, and the client
// connects to.
const (
	DefaultPort    = 12000
	DefaultTLSPort = 12443
)
