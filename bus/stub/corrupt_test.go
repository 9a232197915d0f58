package stub

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// activeSegment returns the path of a topic's last segment file.
func activeSegment(t *testing.T, dir, topic string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, topicsDir, topic, "*"+segmentSuffix))
	if err != nil || len(files) == 0 {
		t.Fatalf("no segments: %v", err)
	}
	slices.Sort(files)
	return files[len(files)-1]
}

// lastRecordStart returns where the last record of a segment file starts.
func lastRecordStart(t *testing.T, b []byte) int {
	t.Helper()
	pos, last := 0, -1
	for pos < len(b) {
		_, n, err := decodeRecord(b[pos:], maxBody)
		if err != nil {
			t.Fatalf("segment damaged at %d before the test damaged it: %v", pos, err)
		}
		last, pos = pos, pos+n
	}
	return last
}

func publishIDs(t *testing.T, b bus.Bus, topic string, ids ...string) {
	t.Helper()
	evs := make([]*event.Event, len(ids))
	for i, id := range ids {
		evs[i] = testEvent(id)
	}
	if err := b.Publish(context.Background(), topic, evs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// drain subscribes a new group from the earliest event and returns the ids
// delivered until none comes for a while, acking them.
func drain(t *testing.T, b bus.Bus, topic, group string) []string {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), topic, group, bus.SubscribeOptions{StartFrom: bus.Earliest()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var got []string
	for {
		select {
		case d := <-sub.Deliveries():
			got = append(got, d.Event().ID())
			d.Ack()
		case <-time.After(300 * time.Millisecond):
			return got
		}
	}
}

func TestTornTailIsTruncated(t *testing.T) {
	const n = 20
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprintf("ev-%02d", i)
	}
	header := func(length uint32) []byte {
		h := make([]byte, frameHeaderLen+10)
		binary.LittleEndian.PutUint32(h, length)
		return h
	}
	damages := []struct {
		name     string
		damage   func(b []byte, last int) []byte
		survives int // events left
	}{
		{"cut 3 bytes", func(b []byte, last int) []byte { return b[:len(b)-3] }, n - 1},
		{"cut inside header", func(b []byte, last int) []byte { return b[:last+5] }, n - 1},
		{"cut after header", func(b []byte, last int) []byte { return b[:last+frameHeaderLen] }, n - 1},
		{"flipped byte", func(b []byte, last int) []byte { b[len(b)-2] ^= 0x40; return b }, n - 1},
		{"garbage appended", func(b []byte, last int) []byte { return append(b, []byte("\x13\x00garbage-garbage-garbage")...) }, n},
		{"huge length appended", func(b []byte, last int) []byte { return append(b, header(1<<29)...) }, n},
		{"zeros appended", func(b []byte, last int) []byte { return append(b, make([]byte, 4096)...) }, n},
		{"stale record appended", func(b []byte, last int) []byte { return append(b, b[:last]...) }, n},
	}
	for _, tc := range damages {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := New(Config{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := b.EnsureTopic(ctx, "t"); err != nil {
				t.Fatal(err)
			}
			for _, id := range want {
				publishIDs(t, b, "t", id)
			}
			b.Close()

			path := activeSegment(t, dir, "t")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tc.damage(data, lastRecordStart(t, data))
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}

			b = open(t, Config{Dir: dir})
			got := drain(t, b, "t", "g1")
			if !slices.Equal(got, want[:tc.survives]) {
				t.Fatalf("after damage delivered %v, want %v", got, want[:tc.survives])
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() > int64(len(data)) {
				t.Errorf("segment not truncated: %v bytes, %v", fi.Size(), err)
			}
			// The log continues after the cut, with the next offset.
			publishIDs(t, b, "t", "after")
			got = drain(t, b, "t", "g2")
			if wantAfter := append(slices.Clone(want[:tc.survives]), "after"); !slices.Equal(got, wantAfter) {
				t.Fatalf("after appending delivered %v, want %v", got, wantAfter)
			}
			b.Close()
			b = open(t, Config{Dir: dir})
			if got := drain(t, b, "t", "g3"); len(got) != tc.survives+1 {
				t.Fatalf("after reopening delivered %d events, want %d", len(got), tc.survives+1)
			}
		})
	}
}

func TestLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	open(t, Config{Dir: dir})
	if b, err := New(Config{Dir: dir}); err == nil {
		b.Close()
		t.Fatal("a second bus opened a directory in use")
	}
}

func TestCleanRestartHasNoDuplicates(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, CommitInterval: time.Hour} // only Close persists
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, "t", "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		publishIDs(t, b, "t", fmt.Sprint(i))
	}
	for i := 0; i < 100; i++ {
		(<-sub.Deliveries()).Ack()
	}
	b.Close()
	b = open(t, cfg)
	sub, err = b.Subscribe(ctx, "t", "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-sub.Deliveries():
		t.Fatalf("event %s delivered again after a clean restart", d.Event().ID())
	case <-time.After(300 * time.Millisecond):
	}
}
