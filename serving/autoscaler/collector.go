package autoscaler

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

var (
	// ErrNoData is returned by a MetricClient when nothing was recorded for the revision
	// within its stable window.
	ErrNoData = errors.New("autoscaler: no data available")
	// ErrNotCollecting is returned by a MetricClient for a revision it does not collect.
	ErrNotCollecting = errors.New("autoscaler: no metrics are being collected for the revision")
)

// MetricClient supplies an Autoscaler with a revision's windowed averages. Collector is the
// implementation; tests may fake it.
type MetricClient interface {
	// StableAndPanicConcurrency returns the average requests in flight (summed over the
	// revision's instances) over the stable and the panic window as of now.
	StableAndPanicConcurrency(key runtime.RevisionKey, now time.Time) (stable, panic float64, err error)
	// StableAndPanicRPS returns the average requests per second over both windows.
	StableAndPanicRPS(key runtime.RevisionKey, now time.Time) (stable, panic float64, err error)
}

// Clock is the collector's source of time; tests inject a fake one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTicker returns a channel that receives the time every d, and a function that
	// stops it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTicker wraps time.NewTicker.
func (RealClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// StatsFunc reports a revision's requests in flight right now (queued ones included) and the
// requests it has completed since it was created (a monotonic counter). The router's
// (*router.Router).Stats method has this signature.
type StatsFunc func(key runtime.RevisionKey) (inFlight int, completed uint64)

// Stat is one second's observation of a revision, summed over its instances, as Knative's
// queue-proxies report it: the average number of requests in flight over the second, and
// the requests that arrived in it, per second.
type Stat struct {
	// AverageConcurrency is the time-averaged number of requests in flight.
	AverageConcurrency float64
	// RequestsPerSecond is the number of requests that arrived, per second.
	RequestsPerSecond float64
}

// CollectorOptions configure a Collector.
type CollectorOptions struct {
	// Stats is sampled for every registered revision on every tick. If nil, data comes
	// only from Record and Poke.
	Stats StatsFunc
	// Clock defaults to RealClock.
	Clock Clock
	// SampleInterval is how often Run samples Stats (default 100ms). Samples are averaged
	// into one Stat per BucketSize, so the concurrency is a time average, not a snapshot.
	// Values above BucketSize are clamped to it.
	SampleInterval time.Duration
}

// Collector keeps, per revision, the bucketed time series of concurrency and requests per
// second that Knative's metric collector keeps, and averages them over the stable and panic
// windows. It samples the router's counters (Stats) on a ticker driven by its Clock: every
// SampleInterval it adds the requests in flight to the revision's running sample, and at the
// first tick of each second it records the average of the samples, and the requests that
// arrived since the previous record (completed delta + in-flight delta) per second, into the
// bucket of that second.
//
// A revision is recorded from its registration and for one stable window after its last
// activity (a second with requests in flight or arriving), so averages decay to exactly zero
// after traffic stops; after that the series goes quiet, so that, as in Knative for a revision
// scaled to zero, the first second of new traffic is averaged on its own rather than with a
// window of zeros. It is safe for concurrent use.
type Collector struct {
	stats    StatsFunc
	clock    Clock
	interval time.Duration

	mu          sync.RWMutex
	collections map[runtime.RevisionKey]*collection
}

// NewCollector returns a Collector; call Run to start sampling.
func NewCollector(o CollectorOptions) *Collector {
	c := &Collector{stats: o.Stats, clock: o.Clock, interval: o.SampleInterval,
		collections: map[runtime.RevisionKey]*collection{}}
	if c.clock == nil {
		c.clock = RealClock{}
	}
	if c.interval <= 0 {
		c.interval = 100 * time.Millisecond
	}
	c.interval = min(c.interval, BucketSize)
	return c
}

// collection is one revision's series.
type collection struct {
	mu sync.Mutex

	stableWindow                  time.Duration
	concurrency, concurrencyPanic *timedBuckets
	rps, rpsPanic                 *timedBuckets
	// lastActivity is the registration time or the latest record with traffic.
	lastActivity time.Time

	// Sampling state: the running sample since the latest record.
	primed        bool
	sampleSum     float64
	sampleN       int
	lastRecord    time.Time // time of the latest sampled record
	lastInFlight  int
	lastCompleted uint64
}

// CreateOrUpdate starts collecting for a revision with its settings' windows, or resizes the
// windows of one already collected. The reconciler calls it when it creates or updates the
// revision's Autoscaler.
func (c *Collector) CreateOrUpdate(key runtime.RevisionKey, s *RevisionSettings) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if col, ok := c.collections[key]; ok {
		col.mu.Lock()
		col.stableWindow = s.StableWindow
		col.concurrency.resizeWindow(now, s.StableWindow)
		col.rps.resizeWindow(now, s.StableWindow)
		col.concurrencyPanic.resizeWindow(now, s.PanicWindow)
		col.rpsPanic.resizeWindow(now, s.PanicWindow)
		col.mu.Unlock()
		return
	}
	c.collections[key] = &collection{
		stableWindow:     s.StableWindow,
		concurrency:      newTimedBuckets(s.StableWindow, BucketSize),
		concurrencyPanic: newTimedBuckets(s.PanicWindow, BucketSize),
		rps:              newTimedBuckets(s.StableWindow, BucketSize),
		rpsPanic:         newTimedBuckets(s.PanicWindow, BucketSize),
		lastActivity:     now,
	}
}

// Delete stops collecting for a revision and drops its series.
func (c *Collector) Delete(key runtime.RevisionKey) {
	c.mu.Lock()
	delete(c.collections, key)
	c.mu.Unlock()
}

func (c *Collector) get(key runtime.RevisionKey) *collection {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.collections[key]
}

func (c *Collector) all() map[runtime.RevisionKey]*collection {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[runtime.RevisionKey]*collection, len(c.collections))
	for k, v := range c.collections {
		out[k] = v
	}
	return out
}

// Run samples every SampleInterval (by the Clock's ticker) until ctx is done.
func (c *Collector) Run(ctx context.Context) {
	ticks, stop := c.clock.NewTicker(c.interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			c.Tick(now)
		}
	}
}

// Tick takes one sample of every registered revision at now (Run calls it; tests call it
// directly with a fake time). It does nothing without a StatsFunc.
func (c *Collector) Tick(now time.Time) {
	if c.stats == nil {
		return
	}
	for key, col := range c.all() {
		inFlight, completed := c.stats(key)
		col.sample(now, inFlight, completed)
	}
}

func (col *collection) sample(now time.Time, inFlight int, completed uint64) {
	col.mu.Lock()
	defer col.mu.Unlock()
	if !col.primed {
		// The first sample only sets the baseline: a record covers the samples after it.
		col.primed = true
		col.lastRecord, col.lastInFlight, col.lastCompleted = now, inFlight, completed
		return
	}
	col.sampleSum += float64(inFlight)
	col.sampleN++
	if !now.Truncate(BucketSize).After(col.lastRecord.Truncate(BucketSize)) {
		return // Still in the second of the latest record.
	}
	arrivals := float64(inFlight - col.lastInFlight)
	if completed >= col.lastCompleted {
		arrivals += float64(completed - col.lastCompleted)
	}
	st := Stat{AverageConcurrency: col.sampleSum / float64(col.sampleN)}
	if secs := now.Sub(col.lastRecord).Seconds(); secs > 0 && arrivals > 0 {
		st.RequestsPerSecond = arrivals / secs
	}
	col.sampleSum, col.sampleN = 0, 0
	col.lastRecord, col.lastInFlight, col.lastCompleted = now, inFlight, completed
	col.recordLocked(now, st)
}

// recordLocked records st at now, subject to the quiet rule (see Collector). col.mu is held.
func (col *collection) recordLocked(now time.Time, st Stat) {
	if st.AverageConcurrency > 0 || st.RequestsPerSecond > 0 {
		col.lastActivity = now
	} else if now.Sub(col.lastActivity) > col.stableWindow {
		return
	}
	col.concurrency.record(now, st.AverageConcurrency)
	col.concurrencyPanic.record(now, st.AverageConcurrency)
	col.rps.record(now, st.RequestsPerSecond)
	col.rpsPanic.record(now, st.RequestsPerSecond)
}

// Record adds an externally produced Stat for the revision at now, as Knative's
// Collector.Record does for the activator's reports. Stats recorded in the same second add
// up, so each source should report once per second (or sum its instances first). A revision
// that is not registered is ignored.
func (c *Collector) Record(key runtime.RevisionKey, now time.Time, st Stat) {
	if col := c.get(key); col != nil {
		col.mu.Lock()
		col.recordLocked(now, st)
		col.mu.Unlock()
	}
}

// Poke records the revision's requests in flight right now, without waiting for the next
// second, so that an Autoscaler asked right after sees the demand: the wiring of the router's
// OnDemand (a request for a revision with no ready instance) calls Poke and then the
// revision's Autoscaler.Scale, as Knative's activator reports a stat at once and pokes the
// autoscaler. The regular record of the next second averages this moment in as well; the
// small double count only makes scale-from-zero slightly more eager.
func (c *Collector) Poke(key runtime.RevisionKey, now time.Time) {
	col := c.get(key)
	if col == nil || c.stats == nil {
		return
	}
	inFlight, _ := c.stats(key)
	if inFlight <= 0 {
		return
	}
	col.mu.Lock()
	col.recordLocked(now, Stat{AverageConcurrency: float64(inFlight)})
	col.mu.Unlock()
}

// StableAndPanicConcurrency implements MetricClient.
func (c *Collector) StableAndPanicConcurrency(key runtime.RevisionKey, now time.Time) (float64, float64, error) {
	return c.averages(key, now, false)
}

// StableAndPanicRPS implements MetricClient.
func (c *Collector) StableAndPanicRPS(key runtime.RevisionKey, now time.Time) (float64, float64, error) {
	return c.averages(key, now, true)
}

func (c *Collector) averages(key runtime.RevisionKey, now time.Time, rps bool) (float64, float64, error) {
	col := c.get(key)
	if col == nil {
		return 0, 0, ErrNotCollecting
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	stable, panicB := col.concurrency, col.concurrencyPanic
	if rps {
		stable, panicB = col.rps, col.rpsPanic
	}
	if stable.isEmpty(now) {
		return 0, 0, ErrNoData
	}
	return stable.windowAverage(now), panicB.windowAverage(now), nil
}
