package autoscaler

import (
	"testing"
	"time"
)

func TestTimedBucketsAverage(t *testing.T) {
	b := newTimedBuckets(5*time.Second, time.Second)
	if !b.isEmpty(t0) || b.windowAverage(t0) != 0 {
		t.Fatal("new buckets not empty")
	}
	// Partial window: averaged over the buckets since the first write.
	b.record(t0, 10)
	b.record(t0.Add(time.Second), 20)
	if got := b.windowAverage(t0.Add(time.Second)); got != 15 {
		t.Errorf("partial window average %v, want 15", got)
	}
	// Two records in one bucket add up.
	b.record(t0.Add(1500*time.Millisecond), 10)
	if got := b.windowAverage(t0.Add(time.Second)); got != 20 {
		t.Errorf("summed bucket average %v, want 20", got)
	}
	// A gap between writes counts as zeros.
	b.record(t0.Add(3*time.Second), 40) // buckets 10, 30, 0, 40
	if got := b.windowAverage(t0.Add(3 * time.Second)); got != 20 {
		t.Errorf("gap average %v, want 20", got)
	}
	// Full window: the oldest bucket drops out.
	b.record(t0.Add(4*time.Second), 50) // 10, 30, 0, 40, 50
	b.record(t0.Add(5*time.Second), 60) // 30, 0, 40, 50, 60
	if got := b.windowAverage(t0.Add(5 * time.Second)); got != 36 {
		t.Errorf("full window average %v, want 36", got)
	}
	// No write for 2s: the average is over the buckets still in the window that hold data.
	if got := b.windowAverage(t0.Add(7 * time.Second)); got != 50 { // 40, 50, 60
		t.Errorf("stale average %v, want 50", got)
	}
	if b.isEmpty(t0.Add(10 * time.Second)) {
		t.Error("empty exactly one window after the last write")
	}
	if !b.isEmpty(t0.Add(11*time.Second)) || b.windowAverage(t0.Add(11*time.Second)) != 0 {
		t.Error("not empty more than a window after the last write")
	}
	// After a window without writes, the series starts afresh.
	b.record(t0.Add(20*time.Second), 7)
	if got := b.windowAverage(t0.Add(20 * time.Second)); got != 7 {
		t.Errorf("fresh average %v, want 7", got)
	}
}

func TestTimedBucketsResize(t *testing.T) {
	b := newTimedBuckets(4*time.Second, time.Second)
	for i := range 4 {
		b.record(t0.Add(time.Duration(i)*time.Second), float64(i+1)) // 1 2 3 4
	}
	b.resizeWindow(t0.Add(3*time.Second), 2*time.Second)
	if got := b.windowAverage(t0.Add(3 * time.Second)); got != 3.5 {
		t.Errorf("shrunk average %v, want 3.5", got)
	}
	b.resizeWindow(t0.Add(3*time.Second), 6*time.Second)
	b.record(t0.Add(4*time.Second), 5)
	// The 3 and 4 kept, then 5; firstWrite moved back so the average spans the window.
	if got := b.windowAverage(t0.Add(4 * time.Second)); got != 12.0/3 {
		t.Errorf("grown average %v, want 4", got)
	}
}

func TestMaxWindow(t *testing.T) {
	w := newMaxWindow(10*time.Second, 2*time.Second) // five 2s slots
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	steps := []struct {
		sec  int
		v    int32
		want int32
	}{
		{0, 5, 5}, {2, 3, 5}, {4, 4, 5}, {8, 1, 5},
		{10, 2, 4}, // the 5 of slot 0 fell out; 4 (slot 2) remains
		{11, 1, 4}, // same slot as 10: the larger is kept
		{14, 0, 2}, {20, 0, 0},
		{22, 7, 7}, {23, 9, 9},
	}
	for _, s := range steps {
		w.record(at(s.sec), s.v)
		if got := w.current(); got != s.want {
			t.Errorf("t0+%ds record %d: current %d, want %d", s.sec, s.v, got, s.want)
		}
	}
}
