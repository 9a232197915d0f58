package process_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
	"github.com/eddyplatform/eddy/serving/runtime/process"
)

// benchRuntime returns a quiet runtime whose cache holds the test server, and the binary's
// path.
func benchRuntime(b *testing.B) (*process.Runtime, string) {
	b.Helper()
	cfg := testConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	rt := newRuntime(b, cfg)
	r := rev("warmup", 1, serverImage())
	apply(b, rt, r)
	waitFor(b, rt, r.Key, "Ready", ready(1))
	if err := rt.Remove(context.Background(), r.Key); err != nil {
		b.Fatal(err)
	}
	bins, _ := filepath.Glob(filepath.Join(cacheDir, "*", "server"))
	if len(bins) != 1 {
		b.Fatalf("want one built server in the cache, have %q", bins)
	}
	return rt, bins[0]
}

// BenchmarkColdStart measures Apply with scale 1 of a prebuilt ko:// image to the first
// HTTP response of its instance: the cold start the activator waits for.
func BenchmarkColdStart(b *testing.B) {
	rt, _ := benchRuntime(b)
	image := serverImage()
	b.ResetTimer()
	for i := range b.N {
		r := rev("cold-"+strconv.Itoa(i), 1, image)
		if err := rt.Apply(context.Background(), r); err != nil {
			b.Fatal(err)
		}
		in := waitFor(b, rt, r.Key, "Ready", ready(1))[0]
		if _, err := get(in.Address, "/"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := rt.Remove(context.Background(), r.Key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDirectStart is ColdStart's baseline: exec the same binary directly and poll it
// (every 500µs) until it answers.
func BenchmarkDirectStart(b *testing.B) {
	_, bin := benchRuntime(b)
	b.ResetTimer()
	for range b.N {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "PORT="+port)
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		addr := "127.0.0.1:" + port
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := get(addr, "/"); err == nil {
				break
			} else if time.Now().After(deadline) {
				b.Fatal(fmt.Errorf("no answer: %w", err))
			}
			time.Sleep(500 * time.Microsecond) // polling the condition "it answers"
		}
		b.StopTimer()
		cmd.Process.Kill()
		cmd.Wait()
		b.StartTimer()
	}
}

var _ runtime.Runtime = (*process.Runtime)(nil)
