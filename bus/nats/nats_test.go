package nats

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

// The tests talk to a real nats-server with JetStream, at EDDY_NATS_URL or
// nats://127.0.0.1:4222.
const startHint = "start one with: start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- " +
	"-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log"

func testURL() string {
	if u := os.Getenv("EDDY_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

var (
	peerOnce sync.Once
	peerErr  error
)

// needPeer fails the test if the NATS server is not reachable.
func needPeer(t testing.TB) {
	t.Helper()
	peerOnce.Do(func() {
		nc, err := natsgo.Connect(testURL(), natsgo.Timeout(3*time.Second))
		if err != nil {
			peerErr = err
			return
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = js.AccountInfo(ctx)
		}
		peerErr = err
	})
	if peerErr != nil {
		t.Fatalf("nats-server with JetStream is not reachable at %s (%v); %s", testURL(), peerErr, startHint)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testConfig returns a configuration with prefixes of its own, so that the
// test's streams are its own; they are deleted when the test ends.
func testConfig(t testing.TB) Config {
	t.Helper()
	needPeer(t)
	id := randomHex(5)
	cfg := Config{
		URL:           testURL(),
		StreamPrefix:  "eddytest_" + id + "_",
		SubjectPrefix: "eddytest." + id,
		ReconnectWait: 50 * time.Millisecond,
		MaxAge:        time.Hour,
	}
	t.Cleanup(func() { deleteStreams(t, cfg.StreamPrefix) })
	return cfg
}

// deleteStreams deletes every stream whose name starts with prefix.
func deleteStreams(t testing.TB, prefix string) {
	nc, err := natsgo.Connect(testURL())
	if err != nil {
		t.Errorf("cleaning up streams %s*: %v", prefix, err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	names := js.StreamNames(ctx)
	var del []string
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix) {
			del = append(del, n)
		}
	}
	for _, n := range del {
		if err := js.DeleteStream(ctx, n); err != nil {
			t.Errorf("deleting stream %s: %v", n, err)
		}
	}
}

// open returns a bus, closed at the end of the test.
func open(t testing.TB, cfg Config) *Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v; %s", err, startHint)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
		cfg := testConfig(t)
		return open(t, cfg), func(t *testing.T) bus.Bus { return open(t, cfg) }
	}})
}
