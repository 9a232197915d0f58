package autoscaler

import (
	"math"
	"time"
)

// timedBuckets is Knative's TimedFloat64Buckets (aggregation/bucketing.go): a ring of
// per-granularity sums covering one window, whose WindowAverage is the simple average over
// the buckets that hold data. Not safe for concurrent use; the collection guards it.
type timedBuckets struct {
	// buckets is a ring indexed by timeToIndex() % len(buckets).
	buckets []float64
	// firstWrite is the bucket of the first write, reset after a window without writes;
	// it bounds how many buckets the average is taken over.
	firstWrite time.Time
	// lastWrite is the bucket of the latest write.
	lastWrite   time.Time
	granularity time.Duration
	window      time.Duration
	// windowTotal is the sum of all buckets.
	windowTotal float64
}

func newTimedBuckets(window, granularity time.Duration) *timedBuckets {
	nb := int(math.Ceil(float64(window) / float64(granularity)))
	return &timedBuckets{buckets: make([]float64, nb), granularity: granularity, window: window}
}

func (t *timedBuckets) timeToIndex(tm time.Time) int {
	return int(tm.Unix()) / int(t.granularity.Seconds())
}

// isEmpty reports whether nothing was recorded within the window before now.
func (t *timedBuckets) isEmpty(now time.Time) bool {
	return now.Truncate(t.granularity).Sub(t.lastWrite) > t.window
}

func roundToNDigits(n int, f float64) float64 {
	p := math.Pow10(n)
	return math.Floor(f*p) / p
}

// windowAverage returns the average bucket value over the window as of now. If the first write
// was less than a window ago, the average is over the buckets since then; if the latest write
// was a while ago, the buckets after it are left out; gaps between writes count as zeros.
func (t *timedBuckets) windowAverage(now time.Time) float64 {
	const precision = 6
	now = now.Truncate(t.granularity)
	switch d := now.Sub(t.lastWrite); {
	case d <= 0:
		numB := math.Min(float64(t.lastWrite.Sub(t.firstWrite)/t.granularity)+1, float64(len(t.buckets)))
		return roundToNDigits(precision, t.windowTotal/numB)
	case d < t.window:
		stIdx, eIdx := t.timeToIndex(t.lastWrite), t.timeToIndex(now)
		ret := t.windowTotal
		for i := stIdx + 1; i <= eIdx; i++ {
			ret -= t.buckets[i%len(t.buckets)]
		}
		numB := math.Min(float64(t.lastWrite.Sub(t.firstWrite)/t.granularity)+1,
			float64(len(t.buckets)-(eIdx-stIdx)))
		return roundToNDigits(precision, ret/numB)
	default:
		return 0
	}
}

// record adds value to the bucket of now, zeroing the buckets skipped since the last write.
func (t *timedBuckets) record(now time.Time, value float64) {
	bucketTime := now.Truncate(t.granularity)
	writeIdx := t.timeToIndex(now)
	if !t.lastWrite.Equal(bucketTime) {
		if t.firstWrite.IsZero() {
			t.firstWrite = bucketTime
		}
		if bucketTime.Sub(t.lastWrite) > t.window {
			// Nothing for a whole window: start afresh.
			t.firstWrite = bucketTime
			clear(t.buckets)
			t.windowTotal = 0
		} else {
			for i := t.timeToIndex(t.lastWrite) + 1; i <= writeIdx; i++ {
				idx := i % len(t.buckets)
				t.windowTotal -= t.buckets[idx]
				t.buckets[idx] = 0
			}
		}
		t.lastWrite = bucketTime
	}
	t.buckets[writeIdx%len(t.buckets)] += value
	t.windowTotal += value
}

// resizeWindow changes the window, keeping the most recent buckets that still fit.
func (t *timedBuckets) resizeWindow(now time.Time, w time.Duration) {
	if w == t.window {
		return
	}
	numBuckets := int(math.Ceil(float64(w) / float64(t.granularity)))
	newBuckets := make([]float64, numBuckets)
	newTotal := 0.
	if now.Truncate(t.granularity).Sub(t.lastWrite) <= t.window {
		oldNumBuckets := len(t.buckets)
		tIdx := t.timeToIndex(t.lastWrite)
		for range min(numBuckets, oldNumBuckets) {
			oi, ni := tIdx%oldNumBuckets, tIdx%numBuckets
			newBuckets[ni] = t.buckets[oi]
			newTotal += t.buckets[oi]
			tIdx--
		}
		t.firstWrite = t.lastWrite.Add(-time.Duration(oldNumBuckets-1) * t.granularity)
	} else {
		t.firstWrite = time.Time{}
	}
	t.window = w
	t.buckets = newBuckets
	t.windowTotal = newTotal
}

// maxWindow is Knative's max.TimeWindow: the maximum of the values recorded over the last
// duration, in granularity-sized slots (a descending-minima deque in a ring).
type maxWindow struct {
	maxima        []maxEntry
	first, length int
	granularity   time.Duration
}

type maxEntry struct {
	value int32
	index int
}

func newMaxWindow(duration, granularity time.Duration) *maxWindow {
	n := int(math.Ceil(float64(duration) / float64(granularity)))
	return &maxWindow{maxima: make([]maxEntry, n), granularity: granularity}
}

func (m *maxWindow) ring(i int) int { return i % len(m.maxima) }

// record records v at now's slot.
func (m *maxWindow) record(now time.Time, v int32) {
	index := int(now.Unix()) / int(m.granularity.Seconds())
	// Drop the entries v dominates: they can never be the maximum again.
	for ; m.length > 0; m.length-- {
		if v < m.maxima[m.ring(m.first+m.length-1)].value {
			break
		}
	}
	// Drop entries that fell out of the window.
	for m.length > 0 && index-m.maxima[m.first].index >= len(m.maxima) {
		m.length--
		m.first = m.ring(m.first + 1)
	}
	// Two values in one slot: keep the larger.
	if m.length > 0 {
		if last := m.maxima[m.ring(m.first+m.length-1)]; last.index == index {
			v = max(v, last.value)
			m.length--
		}
	}
	m.maxima[m.ring(m.first+m.length)] = maxEntry{index: index, value: v}
	m.length++
}

// current returns the maximum over the window as of the latest record.
func (m *maxWindow) current() int32 { return m.maxima[m.first].value }
