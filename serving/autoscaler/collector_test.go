package autoscaler

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// fakeStats is a router's per-revision counters.
type fakeStats struct {
	mu        sync.Mutex
	inFlight  map[runtime.RevisionKey]int
	completed map[runtime.RevisionKey]uint64
}

func newFakeStats() *fakeStats {
	return &fakeStats{inFlight: map[runtime.RevisionKey]int{}, completed: map[runtime.RevisionKey]uint64{}}
}

func (f *fakeStats) Stats(key runtime.RevisionKey) (int, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight[key], f.completed[key]
}

func (f *fakeStats) set(key runtime.RevisionKey, inFlight int, addCompleted uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight[key] = inFlight
	f.completed[key] += addCompleted
}

// fakeClock is a settable clock whose ticker the test drives.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	ticks chan time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(time.Duration) (<-chan time.Time, func()) { return f.ticks, func() {} }

func newTestCollector(stats *fakeStats, s *RevisionSettings) (*Collector, *fakeClock) {
	clk := &fakeClock{now: t0, ticks: make(chan time.Time)}
	c := NewCollector(CollectorOptions{Stats: stats.Stats, Clock: clk, SampleInterval: time.Second})
	c.CreateOrUpdate(testKey, s)
	return c, clk
}

func averages(t *testing.T, c *Collector, now time.Time) (float64, float64) {
	t.Helper()
	st, p, err := c.StableAndPanicConcurrency(testKey, now)
	if err != nil {
		t.Fatalf("at t0+%v: %v", now.Sub(t0), err)
	}
	return st, p
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-5 }

func TestCollectorWindows(t *testing.T) {
	stats := newFakeStats()
	c, _ := newTestCollector(stats, settings(t, nil)) // 60s stable, 6s panic
	if _, _, err := c.StableAndPanicConcurrency(testKey, t0); !errors.Is(err, ErrNoData) {
		t.Fatalf("before any tick: %v", err)
	}
	if _, _, err := c.StableAndPanicConcurrency(runtime.RevisionKey{Name: "other"}, t0); !errors.Is(err, ErrNotCollecting) {
		t.Fatalf("unknown revision: %v", err)
	}
	now := t0
	tick := func(inFlight int) {
		now = now.Add(time.Second)
		stats.set(testKey, inFlight, 0)
		c.Tick(now)
	}
	c.Tick(now) // primes
	for range 60 {
		tick(10)
	}
	if st, p := averages(t, c, now); st != 10 || p != 10 {
		t.Fatalf("steady: stable %v panic %v, want 10 10", st, p)
	}
	// A burst: the panic window sees it at once, the stable window a tenth of it.
	for range 6 {
		tick(30)
	}
	if st, p := averages(t, c, now); !near(st, (54*10+6*30)/60.0) || p != 30 {
		t.Fatalf("burst: stable %v panic %v, want 12 30", st, p)
	}
	// Traffic stops: both decay to exactly zero.
	for range 60 {
		tick(0)
	}
	if st, p := averages(t, c, now); st != 0 || p != 0 {
		t.Fatalf("idle: stable %v panic %v", st, p)
	}
	// After a stable window of silence nothing more is recorded...
	for range 61 {
		tick(0)
	}
	if _, _, err := c.StableAndPanicConcurrency(testKey, now); !errors.Is(err, ErrNoData) {
		t.Fatalf("long idle: %v, want ErrNoData", err)
	}
	// ...so a new burst is averaged over the seconds it lasted, as after a cold start.
	tick(20)
	if st, p := averages(t, c, now); st != 20 || p != 20 {
		t.Fatalf("cold burst: stable %v panic %v, want 20 20", st, p)
	}
	tick(10)
	if st, p := averages(t, c, now); st != 15 || p != 15 {
		t.Fatalf("cold burst: stable %v panic %v, want 15 15", st, p)
	}
}

func TestCollectorRegistrationRecordsZeros(t *testing.T) {
	// A new revision with no traffic has data (zeros), so it can scale down and to zero.
	stats := newFakeStats()
	c, _ := newTestCollector(stats, settings(t, nil))
	c.Tick(t0)
	c.Tick(t0.Add(time.Second))
	if st, p := averages(t, c, t0.Add(time.Second)); st != 0 || p != 0 {
		t.Fatalf("stable %v panic %v", st, p)
	}
}

func TestCollectorSubSecondSamplingAndRPS(t *testing.T) {
	stats := newFakeStats()
	c, _ := newTestCollector(stats, settings(t, nil))
	// 10 samples per second; in flight 0 and 1 alternately (short requests): average 0.5.
	// 20 requests complete per second and none is left over: 20 rps.
	now := t0
	c.Tick(now)
	for s := range 10 {
		for i := range 10 {
			now = now.Add(100 * time.Millisecond)
			var added uint64
			if i == 9 {
				added = 20
			}
			stats.set(testKey, (s*10+i+1)%2, added)
			c.Tick(now)
		}
	}
	st, p := averages(t, c, now)
	if !near(st, 0.5) || !near(p, 0.5) {
		t.Errorf("concurrency stable %v panic %v, want 0.5", st, p)
	}
	rs, rp, err := c.StableAndPanicRPS(testKey, now)
	if err != nil || !near(rs, 20) || !near(rp, 20) {
		t.Errorf("rps stable %v panic %v (%v), want 20", rs, rp, err)
	}
}

func TestCollectorRPSCountsArrivals(t *testing.T) {
	// Arrivals = completed delta + in-flight delta: 5 requests arrive and stay in flight.
	stats := newFakeStats()
	c, _ := newTestCollector(stats, settings(t, nil))
	c.Tick(t0)
	stats.set(testKey, 5, 0)
	c.Tick(t0.Add(time.Second))
	if rs, _, _ := c.StableAndPanicRPS(testKey, t0.Add(time.Second)); rs != 5 {
		t.Errorf("rps %v, want 5", rs)
	}
	// They complete in the next second, and nothing arrives.
	stats.set(testKey, 0, 5)
	c.Tick(t0.Add(2 * time.Second))
	if rs, _, _ := c.StableAndPanicRPS(testKey, t0.Add(2*time.Second)); rs != 2.5 {
		t.Errorf("rps %v, want 2.5 (5 then 0)", rs)
	}
}

func TestCollectorRecordPokeResizeDelete(t *testing.T) {
	stats := newFakeStats()
	s := settings(t, nil)
	c, _ := newTestCollector(stats, s)
	c.Record(testKey, t0, Stat{AverageConcurrency: 4, RequestsPerSecond: 8})
	c.Record(testKey, t0.Add(500*time.Millisecond), Stat{AverageConcurrency: 2, RequestsPerSecond: 2})
	if st, _ := averages(t, c, t0); st != 6 {
		t.Errorf("records in one second add up: %v", st)
	}
	c.Record(runtime.RevisionKey{Name: "unknown"}, t0, Stat{AverageConcurrency: 1}) // ignored

	stats.set(testKey, 3, 0)
	c.Poke(testKey, t0.Add(time.Second))
	if st, p := averages(t, c, t0.Add(time.Second)); st != 4.5 || p != 4.5 {
		t.Errorf("after poke: %v %v, want 4.5", st, p)
	}

	// Resizing keeps the data, and (as Knative's ResizeWindow) presumes the series covered
	// the old window, so the average is over the whole new window: 9 / 30.
	s2 := *s
	s2.StableWindow, s2.PanicWindow = 30*time.Second, 3*time.Second
	c.CreateOrUpdate(testKey, &s2)
	if st, _ := averages(t, c, t0.Add(time.Second)); !near(st, 0.3) {
		t.Errorf("after resize: %v", st)
	}
	c.Delete(testKey)
	if _, _, err := c.StableAndPanicRPS(testKey, t0); !errors.Is(err, ErrNotCollecting) {
		t.Errorf("after delete: %v", err)
	}
}

func TestCollectorRun(t *testing.T) {
	stats := newFakeStats()
	c, clk := newTestCollector(stats, settings(t, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	stats.set(testKey, 7, 0)
	// The ticker channel is unbuffered: each send returns once Run took the tick, and the
	// next send once it finished the previous one.
	for i := range 4 {
		clk.ticks <- t0.Add(time.Duration(i) * time.Second)
	}
	cancel()
	<-done
	if st, p := averages(t, c, t0.Add(3*time.Second)); st != 7 || p != 7 {
		t.Errorf("stable %v panic %v, want 7", st, p)
	}
}
