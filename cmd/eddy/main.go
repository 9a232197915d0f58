// Command eddy is Eddy's one binary: `eddy up` runs the whole platform in one process, and the
// other verbs (apply, get, describe, delete, …) drive it through its API.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
