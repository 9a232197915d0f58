package ping

import (
	"sync"
	"time"
)

// Clock tells the adapter the time and wakes it at the next tick. Tests inject one they
// control; nil in Config means the wall clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// WakeAt returns a channel that receives once the clock reads t or later, and a function
	// that abandons the wait (it may be called more than once, and after the wake-up).
	WakeAt(t time.Time) (<-chan time.Time, func())
}

// maxSleep bounds how long the wall clock sleeps before it looks at the time again: Go's
// timers run on the monotonic clock, which stops while a machine is suspended and ignores
// changes to the wall clock, and the schedule is in wall-clock time.
const maxSleep = time.Minute

// wallClock is the Clock of the real world.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) WakeAt(t time.Time) (<-chan time.Time, func()) {
	t = t.Round(0) // compare by wall clock
	ch := make(chan time.Time, 1)
	done := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			now := time.Now()
			d := t.Sub(now.Round(0))
			if d <= 0 {
				ch <- now
				return
			}
			timer := time.NewTimer(min(d, maxSleep))
			select {
			case <-timer.C:
			case <-done:
				timer.Stop()
				return
			}
		}
	}()
	return ch, func() { once.Do(func() { close(done) }) }
}
