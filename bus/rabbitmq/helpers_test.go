package rabbitmq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	amqp "github.com/rabbitmq/amqp091-go"
)

// The tests talk to a real RabbitMQ broker on 127.0.0.1:5672 as guest/guest.
const (
	testURL  = "amqp://127.0.0.1:5672/"
	startHow = "start it with `rabbitmq-server -detached` and wait for `rabbitmqctl await_startup`"
)

// runID marks every name this test run makes, so that the final sweep
// removes only ours.
var (
	runID    = randHex(4)
	prefixes atomic.Int64
)

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testPrefix returns a fresh name prefix for one test bus (and its reopen).
func testPrefix() string {
	return fmt.Sprintf("et-%s-%d.", runID, prefixes.Add(1))
}

// testLogger logs warnings and worse through t.Log (set
// RABBITMQ_TEST_DEBUG=1 for everything).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("RABBITMQ_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	defer func() { recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testConfig returns a configuration for the local test broker.
func testConfig(t testing.TB, prefix string) Config {
	return Config{
		URL:              testURL,
		Prefix:           prefix,
		ConnectionName:   "eddy-test-" + prefix,
		ReconnectBackoff: 20 * time.Millisecond,
		DialTimeout:      5 * time.Second,
		Logger:           testLogger(t),
	}
}

// openBus opens a bus, closed when the test ends. An unreachable broker
// fails the test, saying how to start one.
func openBus(t testing.TB, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("RabbitMQ is not reachable at %s as guest/guest (%v): %s", testURL, err, startHow)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// rawConn dials the test broker directly, for checks below the bus.
func rawConn(t testing.TB) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		t.Fatalf("RabbitMQ is not reachable at %s (%v): %s", testURL, err, startHow)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// cleanupTopics deletes the given topics and the dead-letter queue of
// prefix when the test ends.
func cleanupTopics(t testing.TB, prefix string, topics ...string) {
	t.Cleanup(func() {
		cfg := testConfig(t, prefix)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		b, err := New(ctx, cfg)
		if err != nil {
			t.Logf("cleanup: %v", err)
			return
		}
		defer b.Close()
		for _, topic := range topics {
			if err := b.DeleteTopic(ctx, topic); err != nil {
				t.Logf("cleanup: DeleteTopic(%q): %v", topic, err)
			}
		}
		b.withChannel(ctx, func(ch *amqp.Channel) error {
			ch.QueueDelete(b.names.deadLetter(), false, false, false)
			return ch.ExchangeDelete(b.names.deadLetter(), false, false)
		})
	})
}

// testEvent returns a valid event with the given id.
func testEvent(id string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/rabbitmq/test")
	e.SetType("dev.eddy.rabbitmq.test")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"id": id}); err != nil {
		panic(err)
	}
	return &e
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// rabbitmqctl runs rabbitmqctl with args and returns its output.
func rabbitmqctl(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "rabbitmqctl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMain runs the tests and then removes any queue or exchange this run
// left behind.
func TestMain(m *testing.M) {
	code := m.Run()
	sweep()
	os.Exit(code)
}

// sweep deletes the queues and exchanges whose names carry this run's id.
func sweep() {
	mark := "et-" + runID + "-"
	list := func(what string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "--no-table-headers", what, "name").Output()
		if err != nil {
			return nil
		}
		var names []string
		for _, line := range strings.Split(string(out), "\n") {
			if name := strings.TrimSpace(line); strings.HasPrefix(name, mark) {
				names = append(names, name)
			}
		}
		return names
	}
	queues, exchanges := list("list_queues"), list("list_exchanges")
	if len(queues)+len(exchanges) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "sweep: removing %d queues and %d exchanges left by this run\n", len(queues), len(exchanges))
	conn, err := amqp.Dial("amqp://guest:guest@127.0.0.1:5672/")
	if err != nil {
		return
	}
	defer conn.Close()
	for _, q := range queues {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(q, false, false, false)
			ch.Close()
		}
	}
	for _, x := range exchanges {
		if ch, err := conn.Channel(); err == nil {
			ch.ExchangeDelete(x, false, false)
			ch.Close()
		}
	}
}
