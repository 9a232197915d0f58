//go:build !race

package dispatcher

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = false
