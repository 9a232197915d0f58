package ping

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/eddyplatform/eddy/sources"
)

// fakeClock is a Clock the test moves by hand. The adapter's waits are reported on wakes, so
// the test knows what the adapter sleeps until before it moves the clock.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*waiter
	wakes   chan time.Time // the time of each WakeAt call
}

type waiter struct {
	at   time.Time
	ch   chan time.Time
	done bool
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, wakes: make(chan time.Time, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) WakeAt(t time.Time) (<-chan time.Time, func()) {
	c.mu.Lock()
	w := &waiter{at: t, ch: make(chan time.Time, 1)}
	if !c.now.Before(t) {
		w.ch <- c.now
		w.done = true
	} else {
		c.waiters = append(c.waiters, w)
	}
	c.mu.Unlock()
	c.wakes <- t
	return w.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		w.done = true
	}
}

// set moves the clock to t and wakes the waits that are due.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		switch {
		case w.done:
		case !t.Before(w.at):
			w.ch <- t
			w.done = true
		default:
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// nextWake returns what the adapter next sleeps until.
func (c *fakeClock) nextWake(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-c.wakes:
		return at
	case <-time.After(10 * time.Second):
		t.Fatal("the adapter does not wait for a tick")
		return time.Time{}
	}
}

// recorder is a Sender that records the events, failing while fail is set.
type recorder struct {
	events chan event.Event
	mu     sync.Mutex
	fail   bool
}

func newRecorder() *recorder { return &recorder{events: make(chan event.Event, 100)} }

func (r *recorder) Send(_ context.Context, ev event.Event) error {
	r.events <- ev
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("sink answered 503")
	}
	return nil
}

func (r *recorder) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case ev := <-r.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return event.Event{}
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case ev := <-r.events:
		t.Fatalf("unexpected event %s at %s", ev.ID(), ev.Time())
	default:
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// start runs an adapter on cfg until the test ends.
func start(t *testing.T, cfg Config) *Adapter {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return a
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// seriesCount counts the series of a metric in reg.
func seriesCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestEveryMinuteWithTimezone checks the exact event of two ticks of "*/1 * * * *" in a zone
// 5h45 east of UTC, with text data.
func TestEveryMinuteWithTimezone(t *testing.T) {
	clock := newFakeClock(mustTime(t, "2024-05-01T09:59:30.250+05:45"))
	rec := newRecorder()
	reg := prometheus.NewRegistry()
	a := start(t, Config{
		Schedule: "*/1 * * * *", Timezone: "Asia/Kathmandu",
		ContentType: "application/json", Data: `{"message": "Hello world!"}`,
		Namespace: "ns1", Name: "every-minute", Sender: rec, Clock: clock, Registerer: reg,
	})
	var ids []string
	for i, want := range []string{"2024-05-01T04:15:00Z", "2024-05-01T04:16:00Z"} {
		at := clock.nextWake(t)
		if !at.Equal(mustTime(t, want)) {
			t.Fatalf("tick %d: adapter sleeps until %s, want %s", i, at.UTC(), want)
		}
		rec.none(t)
		clock.set(at)
		ev := rec.next(t)
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event: %v", err)
		}
		if ev.Type() != "dev.knative.sources.ping" || ev.Source() != "/apis/v1/namespaces/ns1/pingsources/every-minute" ||
			ev.SpecVersion() != "1.0" || ev.DataContentType() != "application/json" || ev.Subject() != "" {
			t.Errorf("tick %d: context %v", i, ev.Context)
		}
		if !ev.Time().Equal(at) {
			t.Errorf("tick %d: time %s, want the scheduled %s", i, ev.Time(), at)
		}
		if string(ev.Data()) != `{"message": "Hello world!"}` {
			t.Errorf("tick %d: data %q", i, ev.Data())
		}
		if len(ev.Extensions()) != 0 {
			t.Errorf("tick %d: extensions %v", i, ev.Extensions())
		}
		// In structured mode the JSON data is embedded as it is.
		js, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(js, []byte(`"data":{"message":"Hello world!"}`)) || !bytes.Contains(js, []byte(`"time":"`+want+`"`)) {
			t.Errorf("tick %d: structured %s", i, js)
		}
		ids = append(ids, ev.ID())
	}
	if ids[0] == ids[1] || ids[0] == "" {
		t.Errorf("ids not unique: %v", ids)
	}
	clock.nextWake(t) // the third tick is planned only after the second event went out
	if got := counterValue(a.vecs.Sent.WithLabelValues("ns1", "every-minute")); got != 2 {
		t.Errorf("sent = %v, want 2", got)
	}
	if n := seriesCount(t, reg, "eddy_pingsource_events_received_total"); n != 1 {
		t.Errorf("received series: %d", n)
	}
}

// TestDataBase64 checks binary data: decoded, with its content type, and base64 again in
// structured mode.
func TestDataBase64(t *testing.T) {
	clock := newFakeClock(mustTime(t, "2024-01-01T00:00:00Z"))
	rec := newRecorder()
	start(t, Config{
		Schedule: "CRON_TZ=Europe/Berlin 0 9 * * 1-5", ContentType: "application/octet-stream",
		DataBase64: "AAECAwT/", Namespace: "ns", Name: "bin", Sender: rec, Clock: clock,
	})
	at := clock.nextWake(t)
	if want := mustTime(t, "2024-01-01T08:00:00Z"); !at.Equal(want) { // Monday, 09:00 CET
		t.Fatalf("sleeps until %s, want %s", at, want)
	}
	clock.set(at)
	ev := rec.next(t)
	if !bytes.Equal(ev.Data(), []byte{0, 1, 2, 3, 4, 0xff}) || ev.DataContentType() != "application/octet-stream" {
		t.Errorf("data %x, content type %q", ev.Data(), ev.DataContentType())
	}
	js, _ := json.Marshal(ev)
	if !bytes.Contains(js, []byte(`"data_base64":"AAECAwT/"`)) {
		t.Errorf("structured: %s", js)
	}
	// The next weekday tick is Tuesday.
	if at := clock.nextWake(t); !at.Equal(mustTime(t, "2024-01-02T08:00:00Z")) {
		t.Errorf("then sleeps until %s", at)
	}
}

// TestNoData: without data or content type the event has neither.
func TestNoData(t *testing.T) {
	clock := newFakeClock(mustTime(t, "2024-01-01T00:00:00Z"))
	rec := newRecorder()
	start(t, Config{Schedule: "@hourly", Namespace: "ns", Name: "empty", Sender: rec, Clock: clock})
	clock.set(clock.nextWake(t))
	ev := rec.next(t)
	if ev.Data() != nil || ev.DataContentType() != "" || !ev.Time().Equal(mustTime(t, "2024-01-01T01:00:00Z")) {
		t.Errorf("event %v data %q", ev.Context, ev.Data())
	}
}

// TestDST follows a 02:30 and a 01:30 schedule in New York over both changes of 2021: the
// 02:30 tick that does not exist on 14 March is skipped, the 01:30 that happens twice on 7
// November fires twice.
func TestDST(t *testing.T) {
	for _, tc := range []struct {
		schedule, from string
		ticks          []string
	}{
		{"30 2 * * *", "2021-03-13T00:00:00-05:00", []string{
			"2021-03-13T07:30:00Z", // 02:30 EST
			"2021-03-15T06:30:00Z", // 02:30 EDT; none on the 14th
		}},
		{"30 1 * * *", "2021-11-06T00:00:00-04:00", []string{
			"2021-11-06T05:30:00Z", // 01:30 EDT
			"2021-11-07T05:30:00Z", // 01:30 EDT
			"2021-11-07T06:30:00Z", // 01:30 EST, an hour later
			"2021-11-08T06:30:00Z",
		}},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			clock := newFakeClock(mustTime(t, tc.from))
			rec := newRecorder()
			start(t, Config{Schedule: tc.schedule, Timezone: "America/New_York", Data: "tick", ContentType: "text/plain",
				Namespace: "ns", Name: "dst", Sender: rec, Clock: clock})
			for _, want := range tc.ticks {
				at := clock.nextWake(t)
				if !at.Equal(mustTime(t, want)) {
					t.Fatalf("sleeps until %s, want %s", at.UTC().Format(time.RFC3339), want)
				}
				clock.set(at)
				if ev := rec.next(t); !ev.Time().Equal(at) || string(ev.Data()) != "tick" {
					t.Fatalf("event at %s with %q, want %s", ev.Time(), ev.Data(), at)
				}
			}
		})
	}
}

// TestMissedTicks: after a pause over many ticks the adapter sends one event, for the latest
// tick that passed, and goes on with the next one; a pause of a year does the same.
func TestMissedTicks(t *testing.T) {
	clock := newFakeClock(mustTime(t, "2024-03-01T12:00:10Z"))
	rec := newRecorder()
	start(t, Config{Schedule: "* * * * *", Namespace: "ns", Name: "late", Sender: rec, Clock: clock})
	at := clock.nextWake(t)
	if !at.Equal(mustTime(t, "2024-03-01T12:01:00Z")) {
		t.Fatalf("sleeps until %s", at)
	}
	clock.set(mustTime(t, "2024-03-01T12:06:30Z")) // five ticks late
	if ev := rec.next(t); !ev.Time().Equal(mustTime(t, "2024-03-01T12:06:00Z")) {
		t.Errorf("late event at %s, want 12:06", ev.Time())
	}
	if at := clock.nextWake(t); !at.Equal(mustTime(t, "2024-03-01T12:07:00Z")) {
		t.Errorf("then sleeps until %s", at)
	}
	rec.none(t)

	clock.set(mustTime(t, "2025-03-01T12:07:59Z")) // a year late
	if ev := rec.next(t); !ev.Time().Equal(mustTime(t, "2025-03-01T12:07:00Z")) {
		t.Errorf("event after a year at %s", ev.Time())
	}
	if at := clock.nextWake(t); !at.Equal(mustTime(t, "2025-03-01T12:08:00Z")) {
		t.Errorf("then sleeps until %s", at)
	}
	rec.none(t)
}

// TestFailingSink: a send that fails is counted, and the schedule goes on.
func TestFailingSink(t *testing.T) {
	clock := newFakeClock(mustTime(t, "2024-01-01T00:00:00Z"))
	rec := newRecorder()
	rec.fail = true
	reg := prometheus.NewRegistry()
	a := start(t, Config{Schedule: "*/5 * * * *", Namespace: "ns", Name: "fails", Sender: rec, Clock: clock, Registerer: reg})
	clock.set(clock.nextWake(t))
	rec.next(t)
	clock.set(clock.nextWake(t))
	if ev := rec.next(t); !ev.Time().Equal(mustTime(t, "2024-01-01T00:10:00Z")) {
		t.Errorf("second tick at %s", ev.Time())
	}
	deadline := time.Now().Add(10 * time.Second)
	for counterValue(a.vecs.Failed.WithLabelValues("ns", "fails")) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("failures not counted")
		}
		time.Sleep(time.Millisecond) // polling a counter updated by the send goroutine
	}
	if got := counterValue(a.vecs.Received.WithLabelValues("ns", "fails")); got != 2 {
		t.Errorf("received %v", got)
	}
}

// TestSharedRegistry: two adapters register with one registry.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for _, name := range []string{"a", "b"} {
		if _, err := New(Config{Schedule: "@daily", Namespace: "ns", Name: name, Sender: newRecorder(), Registerer: reg}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWallClock wakes at a time a few milliseconds ahead, and can be abandoned.
func TestWallClock(t *testing.T) {
	var c wallClock
	at := c.Now().Add(20 * time.Millisecond)
	ch, stop := c.WakeAt(at)
	defer stop()
	select {
	case got := <-ch:
		if got.Before(at) {
			t.Errorf("woke at %s, before %s", got, at)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not wake")
	}
	_, stop2 := c.WakeAt(c.Now().Add(time.Hour))
	stop2()
	stop2()
}

// TestRunWallClock runs the adapter on the real clock until the context ends.
func TestRunWallClock(t *testing.T) {
	a, err := New(Config{Schedule: "@every 1s", Namespace: "ns", Name: "wall", Sender: sources.SenderFunc(func(context.Context, event.Event) error { return nil })})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if et := a.EventTypes(); len(et) != 1 || et[0].Type != EventType || et[0].Source != "/apis/v1/namespaces/ns/pingsources/wall" {
		t.Errorf("EventTypes: %+v", et)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Schedule: "* * * * *", Namespace: "ns", Name: "n", Sender: newRecorder()}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"empty schedule", func(c *Config) { c.Schedule = "" }, "schedule is empty"},
		{"six fields", func(c *Config) { c.Schedule = "0 * * * * *" }, "expected exactly 5 fields"},
		{"bad field", func(c *Config) { c.Schedule = "61 * * * *" }, "schedule"},
		{"bad zone", func(c *Config) { c.Timezone = "Mars/Olympus" }, "not a known IANA zone"},
		{"two zones", func(c *Config) { c.Schedule = "CRON_TZ=UTC * * * * *"; c.Timezone = "UTC" }, "give the zone once"},
		{"prefix only", func(c *Config) { c.Schedule = "CRON_TZ=UTC" }, "followed by a space"},
		{"double prefix", func(c *Config) { c.Schedule = "TZ=UTC CRON_TZ=UTC * * * * *" }, "more than one zone"},
		{"both data", func(c *Config) { c.Data = "x"; c.DataBase64 = "eA==" }, "exclude each other"},
		{"bad base64", func(c *Config) { c.DataBase64 = "!!" }, "not valid base64"},
		{"bad content type", func(c *Config) { c.ContentType = "a b" }, "not a media type"},
		{"no name", func(c *Config) { c.Name = "" }, "namespace and name"},
		{"no sender", func(c *Config) { c.Sender = nil }, "Sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := New(ok); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestNonJSONText: text that is not JSON under a JSON content type stays text on the wire
// and goes as data_base64 in structured mode, which keeps that valid JSON.
func TestNonJSONText(t *testing.T) {
	a, err := New(Config{Schedule: "@daily", Data: "not json", Namespace: "ns", Name: "n", Sender: newRecorder()})
	if err != nil {
		t.Fatal(err)
	}
	ev := a.event(mustTime(t, "2024-01-01T00:00:00Z"))
	js, err := json.Marshal(ev)
	if err != nil || !json.Valid(js) || string(ev.Data()) != "not json" {
		t.Errorf("structured %s, %v", js, err)
	}
}
