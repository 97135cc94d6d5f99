//go:build unix

package store

import (
	"errors"
	"os"
	"syscall"
)

// lock keeps other servers from opening f's store while this one has it
// open. SQLite's own locks are fcntl locks, which a flock leaves alone.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errInUse
	}
	return err
}
