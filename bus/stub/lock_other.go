//go:build !unix

package stub

import (
	"fmt"
	"os"
)

// lockDir opens path; on this platform it does not lock it, so it is up to
// the user to open a directory with one Bus at a time.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("stub: %w", err)
	}
	return f, nil
}
