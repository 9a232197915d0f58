package stub

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

func segmentCount(t *testing.T, dir, topic string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, topicsDir, topic, "*"+segmentSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return len(files)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}

func TestRetentionBySize(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{Dir: dir, SegmentBytes: 4096, RetentionBytes: 16 << 10})
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	// A group that reads nothing must not hold back retention.
	if _, err := b.Subscribe(ctx, "t", "idle", bus.SubscribeOptions{StartFrom: bus.Earliest()}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500; i++ {
		publishIDs(t, b, "t", fmt.Sprintf("ev-%03d", i))
	}
	if n := segmentCount(t, dir, "t"); n > 6 {
		t.Errorf("%d segments of 4 KiB kept under a 16 KiB retention", n)
	}
	got := drain(t, b, "t", "late")
	if len(got) == 0 || len(got) >= 500 || got[len(got)-1] != "ev-499" {
		t.Fatalf("after retention a new group got %d events ending %v", len(got), got[len(got)-1:])
	}
	// Offsets stay what they were: the first retained event's offset says
	// how many were deleted.
	sub, err := b.Subscribe(ctx, "t", "from0", bus.SubscribeOptions{StartFrom: bus.AtOffset(0)})
	if err != nil {
		t.Fatal(err)
	}
	d := <-sub.Deliveries()
	if off := d.(bus.Offsetter).Offset(); off != int64(500-len(got)) || d.Event().ID() != got[0] {
		t.Errorf("first retained event %s at offset %d, want %s at %d", d.Event().ID(), off, got[0], 500-len(got))
	}
}

func TestRetentionByAge(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{Dir: dir, SegmentBytes: 4096, RetentionAge: 50 * time.Millisecond, RetentionCheckInterval: 10 * time.Millisecond})
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		publishIDs(t, b, "t", fmt.Sprintf("old-%03d", i))
	}
	if n := segmentCount(t, dir, "t"); n < 3 {
		t.Fatalf("only %d segments; the test needs several", n)
	}
	waitFor(t, "old segments to age out", func() bool { return segmentCount(t, dir, "t") == 1 })
	publishIDs(t, b, "t", "new")
	got := drain(t, b, "t", "g")
	if got[len(got)-1] != "new" || len(got) > 40 {
		t.Fatalf("after age retention got %d events: %v", len(got), got)
	}
}

func TestSeekAcrossSealedSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentBytes: 4096}
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	var mid time.Time
	for i := 0; i < 300; i += 10 {
		if i == 200 {
			mid = time.Now()
			<-time.After(2 * time.Millisecond) // the clock moves past mid
		}
		var ids []string
		for j := i; j < i+10; j++ {
			ids = append(ids, fmt.Sprintf("ev-%03d", j))
		}
		publishIDs(t, b, "t", ids...)
	}
	b.Close()
	b = open(t, cfg) // sealed segments are now unloaded
	if n := segmentCount(t, dir, "t"); n < 10 {
		t.Fatalf("only %d segments; the test needs many", n)
	}
	for _, off := range []int64{0, 1, 37, 150, 298, 299} {
		sub, err := b.Subscribe(ctx, "t", fmt.Sprint("off", off), bus.SubscribeOptions{StartFrom: bus.AtOffset(off)})
		if err != nil {
			t.Fatal(err)
		}
		d := <-sub.Deliveries()
		if got := d.(bus.Offsetter).Offset(); got != off || d.Event().ID() != fmt.Sprintf("ev-%03d", off) {
			t.Errorf("AtOffset(%d) started at %d (%s)", off, got, d.Event().ID())
		}
		sub.Close()
	}
	sub, err := b.Subscribe(ctx, "t", "time", bus.SubscribeOptions{StartFrom: bus.AtTime(mid)})
	if err != nil {
		t.Fatal(err)
	}
	if d := <-sub.Deliveries(); d.Event().ID() != "ev-200" {
		t.Errorf("AtTime started at %s, want ev-200", d.Event().ID())
	}
}
