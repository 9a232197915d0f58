package stub

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// The crash test runs the test binary again as a child process
// (TestCrashChild, enabled by crashDirEnv). The child publishes from several
// goroutines and prints "pub <id>" for each acknowledged publish; it also
// consumes group "work", acks most events (holding some back) and prints
// "ack <id>" for each event it acked. The
// parent SIGKILLs it mid-stream, reopens the log and checks that group
// "verify" gets every acknowledged event and group "work" every one the
// child had not acked.

const crashDirEnv = "EDDY_STUB_CRASH_DIR"

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestKillMidStream as a child process")
	}
	b, err := New(Config{Dir: dir, SegmentBytes: 256 << 10, CommitInterval: 5 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var out sync.Mutex
	say := func(lines string) {
		out.Lock()
		os.Stdout.WriteString(lines)
		out.Unlock()
	}
	sub, err := b.Subscribe(ctx, "crash", "work", bus.SubscribeOptions{MaxInFlight: 1 << 20})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	go func() {
		held := 0
		for d := range sub.Deliveries() {
			// Hold some events unacknowledged, so that the committed
			// offset lags behind acks as it would with a slow subscriber.
			if held++; held%97 == 0 {
				continue
			}
			if err := d.Ack(); err == nil {
				say("ack " + d.Event().ID() + "\n")
			}
		}
	}()
	for p := 0; p < 8; p++ {
		go func() {
			for i := 0; ; i++ {
				n := 1 + i%3 // batches of 1 to 3 events
				evs := make([]string, n)
				var lines strings.Builder
				for j := range evs {
					evs[j] = fmt.Sprintf("p%d-%d-%d", p, i, j)
				}
				batch := make([]*event.Event, 0, n)
				for _, id := range evs {
					batch = append(batch, testEvent(id))
				}
				if err := b.Publish(ctx, "crash", batch...); err != nil {
					say("error " + err.Error() + "\n")
					return
				}
				for _, id := range evs {
					lines.WriteString("pub " + id + "\n")
				}
				say(lines.String())
			}
		}()
	}
	select {} // until killed
}

func TestKillMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	// Create the topic and both groups before the child publishes.
	b := open(t, Config{Dir: dir})
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "crash"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"work", "verify"} {
		sub, err := b.Subscribe(ctx, "crash", g, bus.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sub.Close()
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	published, acked := map[string]bool{}, map[string]bool{}
	lines := bufio.NewScanner(stdout)
	killed := false
	deadline := time.Now().Add(20 * time.Second)
	for lines.Scan() {
		verb, id, _ := strings.Cut(lines.Text(), " ")
		switch verb {
		case "pub":
			published[id] = true
		case "ack":
			acked[id] = true
		case "error":
			t.Errorf("child: %s", id)
		}
		if !killed && (len(published) >= 5000 || time.Now().After(deadline)) {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	// Lines already in the pipe after the kill were printed before it.
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before it was killed: %v", err)
	}
	if len(published) == 0 {
		t.Fatal("child acknowledged no publishes")
	}
	t.Logf("child acknowledged %d publishes and acked %d deliveries before SIGKILL", len(published), len(acked))

	b = open(t, Config{Dir: dir})
	check := func(group string, want map[string]bool) {
		sub, err := b.Subscribe(ctx, "crash", group, bus.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		dups := 0
		timeout := time.NewTimer(30 * time.Second)
		defer timeout.Stop()
		for len(want) > 0 {
			select {
			case d := <-sub.Deliveries():
				if !want[d.Event().ID()] {
					dups++
				}
				delete(want, d.Event().ID())
				d.Ack()
			case <-timeout.C:
				t.Fatalf("group %s: %d acknowledged events never delivered after the crash", group, len(want))
			}
		}
		t.Logf("group %s: every expected event delivered (%d others, acked before the crash or unreported)", group, dups)
	}
	verify := map[string]bool{}
	work := map[string]bool{}
	for id := range published {
		verify[id] = true
		if !acked[id] {
			work[id] = true
		}
	}
	check("verify", verify)
	check("work", work)
}
