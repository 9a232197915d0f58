package stub

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

// open returns a bus over dir (in memory if dir is ""), closed at the end
// of the test.
func open(t testing.TB, cfg Config) *Bus {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformanceDisk(t *testing.T) {
	bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
		cfg := Config{Dir: t.TempDir(), SegmentBytes: 1 << 20}
		return open(t, cfg), func(t *testing.T) bus.Bus { return open(t, cfg) }
	}})
}

func TestConformanceInMemory(t *testing.T) {
	bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
		return open(t, Config{InMemory: true}), nil
	}})
}

// TestConformanceTight runs the suite with small segments, a small group
// window and small in-flight limits, so that rolling, refilling a full
// window and waiting for room happen all the time. It counts fewer events in
// ManyEventsNoneLost: the runs above count the full 100,000 with the same
// code; this one is about the paths, not the volume.
func TestConformanceTight(t *testing.T) {
	bustest.Run(t, bustest.Factory{
		New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
			cfg := Config{Dir: t.TempDir(), SegmentBytes: 64 << 10, GroupWindow: 16, MaxInFlight: 8,
				CommitInterval: time.Millisecond, MaxEventBytes: 64 << 10}
			return open(t, cfg), func(t *testing.T) bus.Bus { return open(t, cfg) }
		},
		ManyEvents: 20_000,
	})
}

func TestDeleteGroup(t *testing.T) {
	dir := t.TempDir()
	b := open(t, Config{Dir: dir})
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "t", "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publishIDs(t, b, "t", "before")
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Fatal(err)
	}
	for range sub.Deliveries() {
	}
	if err := sub.Err(); err != nil {
		t.Errorf("Err after DeleteGroup = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(dir, topicsDir, "t", groupsDir, "g")); !os.IsNotExist(err) {
		t.Errorf("group file still there: %v", err)
	}
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Errorf("deleting a missing group: %v", err)
	}
	// A new group of the same name starts afresh, at the latest event.
	b.Close()
	b = open(t, Config{Dir: dir})
	sub, err = b.Subscribe(ctx, "t", "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	publishIDs(t, b, "t", "after")
	if d := <-sub.Deliveries(); d.Event().ID() != "after" {
		t.Errorf("recreated group got %s first, want after", d.Event().ID())
	}
}

// TestCloseStopsGoroutines: after Close, the writer, group, member and
// janitor goroutines are gone.
func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b, err := New(Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, topic := range []string{"a", "b"} {
		if err := b.EnsureTopic(ctx, topic); err != nil {
			t.Fatal(err)
		}
		for _, g := range []string{"g1", "g2"} {
			if _, err := b.Subscribe(ctx, topic, g, bus.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		publishIDs(t, b, topic, "x")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
