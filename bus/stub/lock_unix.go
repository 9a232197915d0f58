//go:build unix

package stub

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive lock on path, so that one Bus at a time uses
// a directory. The lock goes with the returned file (or the process).
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("stub: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("stub: %s is locked: another bus has this directory open", path)
		}
		return nil, fmt.Errorf("stub: locking %s: %w", path, err)
	}
	return f, nil
}
