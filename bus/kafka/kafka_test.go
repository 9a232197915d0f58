package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

// The tests run against kfake, an in-process cluster that speaks the
// Kafka protocol, with three brokers: the bus talks to it over TCP exactly
// as it talks to Kafka.
var (
	clusterOnce sync.Once
	theCluster  *kfake.Cluster
	clusterErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if theCluster != nil {
		theCluster.Close()
	}
	os.Exit(code)
}

// newCluster starts a three-broker kfake cluster whose groups accept the
// short session timeouts the tests use.
func newCluster(opts ...kfake.Opt) (*kfake.Cluster, error) {
	return kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(3),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)...)
}

// cluster returns the cluster the tests share.
func cluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	clusterOnce.Do(func() { theCluster, clusterErr = newCluster() })
	if clusterErr != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster (github.com/twmb/franz-go/pkg/kfake, "+
			"which needs free localhost TCP ports): %v", clusterErr)
	}
	return theCluster
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testLogger logs warnings to stderr (all with EDDY_TEST_LOG=debug).
func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testConfig returns a configuration with a fresh topic prefix, and the
// timings turned down so that rebalances take a fraction of a second. It
// deletes the prefix's topics when the test ends.
func testConfig(t testing.TB, c *kfake.Cluster, partitions int32, opts ...func(*Config)) Config {
	t.Helper()
	cfg := Config{
		Brokers:           c.ListenAddrs(),
		TopicPrefix:       "t" + randomSuffix() + ".",
		Partitions:        partitions,
		ReplicationFactor: 3,
		SessionTimeout:    3 * time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout:  6 * time.Second,
		CommitInterval:    100 * time.Millisecond,
		MetadataRefresh:   2 * time.Second,
		DialTimeout:       10 * time.Second,
		Logger:            testLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	t.Cleanup(func() { deleteTopics(t, cfg) })
	return cfg
}

// deleteTopics deletes the topics under cfg's prefix.
func deleteTopics(t testing.TB, cfg Config) {
	cfg.setDefaults()
	admin, err := sarama.NewClusterAdmin(cfg.Brokers, cfg.saramaConfig())
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer admin.Close()
	topics, err := admin.ListTopics()
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for name := range topics {
		if strings.HasPrefix(name, cfg.TopicPrefix) {
			if err := admin.DeleteTopic(name); err != nil {
				t.Logf("cleanup: deleting %s: %v", name, err)
			}
		}
	}
}

// open returns a bus, closed when the test ends.
func open(t testing.TB, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	c := cluster(t)
	bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
		cfg := testConfig(t, c, 4)
		return open(t, cfg), func(t *testing.T) bus.Bus { return open(t, cfg) }
	}})
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising
	}
}

// TestCloseStopsGoroutines: after Close, the bus's clients, members,
// producers and timers are gone.
func TestCloseStopsGoroutines(t *testing.T) {
	c := cluster(t)
	cfg := testConfig(t, c, 2)
	before := runtime.NumGoroutine()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g2"} {
		sub, err := b.Subscribe(ctx, "t", g, bus.SubscribeOptions{AckDeadline: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range sub.Deliveries() { // hold them unsettled
			}
		}()
	}
	if err := b.Publish(ctx, "t", testEvent("x", "")); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", 30*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}
