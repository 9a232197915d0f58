package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkasarama "github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The tests run kfake, an in-process Kafka cluster speaking the Kafka protocol on localhost
// ports, and produce to it with sarama as any Kafka client would.

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster (it needs free localhost ports): %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes msgs and returns them with their partitions and offsets.
func produce(t *testing.T, addrs []string, msgs ...*sarama.ProducerMessage) []*sarama.ProducerMessage {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Version = sarama.V2_8_0_0
	p, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	return msgs
}

func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// sink is a Sender recording every attempt; fail decides whether one fails.
type sink struct {
	events chan event.Event
	mu     sync.Mutex
	fail   func(ev event.Event) bool
}

func newSink() *sink { return &sink{events: make(chan event.Event, 10000)} }

func (s *sink) Send(_ context.Context, ev event.Event) error {
	s.events <- ev
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil && s.fail(ev) {
		return errors.New("sink answered 503")
	}
	return nil
}

func (s *sink) setFail(f func(event.Event) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = f
}

func (s *sink) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
		return event.Event{}
	}
}

// run starts an adapter; the returned function stops it.
func run(t *testing.T, cfg Config) (*Adapter, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.Namespace == "" {
		cfg.Namespace, cfg.Name = "ns", "src"
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

var recordTime = time.Date(2020, 5, 17, 19, 45, 2, 700_000_000, time.UTC)

// TestPlainRecord: a record that is not a CloudEvent becomes Knative's dev.knative.kafka.event
// (the record of Knative's KafkaSource sample: key "0", a content-type header, a JSON value).
func TestPlainRecord(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "logs"))
	produce(t, c.ListenAddrs(),
		&sarama.ProducerMessage{Topic: "logs", Partition: 1, Key: sarama.StringEncoder("0"), Value: sarama.StringEncoder(`{"msg":"This is a test!"}`),
			Headers:   []sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/json")}, {Key: []byte("X-Trace_Id"), Value: []byte("abc")}},
			Timestamp: recordTime},
		&sarama.ProducerMessage{Topic: "logs", Partition: 1, Value: sarama.ByteEncoder([]byte{0xff, 0}), Timestamp: recordTime,
			Headers: []sarama.RecordHeader{{Key: []byte("bin"), Value: []byte{0xff}}}})
	s := newSink()
	reg := prometheus.NewRegistry()
	a, _ := run(t, Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"logs"}, ConsumerGroup: "g", InitialOffset: OffsetEarliest,
		Namespace: "default", Name: "kafka-source", Sender: s, Registerer: reg})

	ev := s.next(t)
	want := event.New()
	want.SetID("partition:1/offset:0")
	want.SetType("dev.knative.kafka.event")
	want.SetSource("/apis/v1/namespaces/default/kafkasources/kafka-source#logs")
	want.SetSubject("partition:1#0")
	want.SetTime(recordTime)
	want.SetExtension("key", "0")
	want.SetExtension("partitionkey", "0")
	want.SetExtension("kafkaheadercontenttype", "application/json")
	want.SetExtension("kafkaheaderxtraceid", "abc")
	if err := want.SetData("application/json", json.RawMessage(`{"msg":"This is a test!"}`)); err != nil {
		t.Fatal(err)
	}
	assertSame(t, ev, want)

	ev = s.next(t)
	if ev.ID() != "partition:1/offset:1" || !bytes.Equal(ev.Data(), []byte{0xff, 0}) || ev.DataContentType() != "" || len(ev.Extensions()) != 0 {
		t.Errorf("binary record: %v %x", ev, ev.Data())
	}
	js, err := json.Marshal(ev)
	if err != nil || !json.Valid(js) || !strings.Contains(string(js), `"data_base64":"/wA="`) {
		t.Errorf("structured: %s %v", js, err)
	}
	eventuallyEqual(t, "sent", func() float64 { return counterValue(a.vecs.Sent.WithLabelValues("default", "kafka-source")) }, 2)
	if et := a.EventTypes(); len(et) != 1 || et[0].Source != "/apis/v1/namespaces/default/kafkasources/kafka-source#logs" || et[0].Type != EventType {
		t.Errorf("EventTypes %+v", et)
	}
}

// assertSame compares two events through their JSON form.
func assertSame(t *testing.T, got, want event.Event) {
	t.Helper()
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil {
		t.Fatalf("marshal: %v %v", err1, err2)
	}
	var gm, wm map[string]any
	json.Unmarshal(g, &gm)
	json.Unmarshal(w, &wm)
	if !reflect.DeepEqual(gm, wm) {
		t.Errorf("event\n got %s\nwant %s", g, w)
	}
}

// TestCloudEventRecords: records in the CloudEvents Kafka binding pass unchanged, in binary
// mode (written by sdk-go's Kafka binding) and structured mode (the recorded events); records
// that claim to be CloudEvents but are not valid are wrapped like plain records.
func TestCloudEventRecords(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "events"))
	var msgs []*sarama.ProducerMessage
	var want []event.Event

	bin := event.New()
	bin.SetID("1234-1234-1234")
	bin.SetType("com.example.someevent")
	bin.SetSource("/mycontext/subcontext")
	bin.SetTime(time.Date(2018, 4, 5, 3, 56, 24, 0, time.UTC))
	bin.SetSubject("sub")
	bin.SetExtension("comexampleextension1", "value")
	bin.SetExtension("comexampleothervalue", 5)
	if err := bin.SetData("application/xml", "<much wow=\"xml\"/>"); err != nil {
		t.Fatal(err)
	}
	pm := &sarama.ProducerMessage{Topic: "events", Partition: 0, Key: sarama.StringEncoder("mykey")}
	if err := kafkasarama.WriteProducerMessage(context.Background(), binding.ToMessage(&bin), pm); err != nil {
		t.Fatal(err)
	}
	if !hasHeader(pm, "ce_specversion") {
		t.Fatalf("not binary mode: %v", pm.Headers)
	}
	msgs = append(msgs, pm)
	bin.SetExtension("comexampleothervalue", "5") // headers carry text
	want = append(want, bin)

	files, _ := filepath.Glob("testdata/cloudevents/json-valid/*.json")
	invalid, _ := filepath.Glob("testdata/cloudevents/json-invalid/*.json")
	if len(files) == 0 || len(invalid) == 0 {
		t.Fatal("no recorded events")
	}
	for _, f := range append(files, invalid...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "events", Partition: 0, Value: sarama.ByteEncoder(b), Timestamp: recordTime,
			Headers: []sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte("application/cloudevents+json; charset=UTF-8")}}})
		var ev event.Event
		if strings.Contains(f, "json-valid") {
			if err := json.Unmarshal(b, &ev); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		} else {
			ev = event.New()
			ev.SetID(fmt.Sprintf("partition:0/offset:%d", len(want)))
			ev.SetType(EventType)
			ev.SetSource("/apis/v1/namespaces/ns/kafkasources/src#events")
			ev.SetSubject(fmt.Sprintf("partition:0#%d", len(want)))
			ev.SetTime(recordTime)
			ev.SetExtension("kafkaheadercontenttype", "application/cloudevents+json; charset=UTF-8")
			ev.SetDataContentType("application/cloudevents+json; charset=UTF-8")
			ev.DataEncoded, ev.DataBase64 = b, !json.Valid(b)
		}
		want = append(want, ev)
	}
	produce(t, c.ListenAddrs(), msgs...)
	s := newSink()
	run(t, Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"events"}, ConsumerGroup: "g", InitialOffset: OffsetEarliest, Sender: s})
	for i, w := range want {
		got := s.next(t)
		name := "binary"
		if i > 0 {
			name = filepath.Base(append(files, invalid...)[i-1])
		}
		t.Run(name, func(t *testing.T) { assertSame(t, got, w) })
	}
}

func hasHeader(pm *sarama.ProducerMessage, k string) bool {
	for _, h := range pm.Headers {
		if string(h.Key) == k {
			return true
		}
	}
	return false
}

// TestCommitAfterAck: the sink takes A and refuses B; B is sent again with backoff and C
// waits behind it. An adapter started afterwards in the same group begins with B, not A:
// only what the sink took was committed.
func TestCommitAfterAck(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, c.ListenAddrs(),
		&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("A")},
		&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("B")},
		&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("C")})
	s := newSink()
	s.setFail(func(ev event.Event) bool { return string(ev.Data()) == "B" })
	cfg := Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"t"}, ConsumerGroup: "g", InitialOffset: OffsetEarliest,
		RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond, CommitInterval: 10 * time.Millisecond, Sender: s}
	a, stop := run(t, cfg)
	if got := string(s.next(t).Data()); got != "A" {
		t.Fatalf("first %q", got)
	}
	for i := 0; i < 3; i++ {
		if got := string(s.next(t).Data()); got != "B" {
			t.Fatalf("attempt %d: %q, want B again while it fails", i, got)
		}
	}
	// The adapter counts a failure after the sink answered: wait for the third count.
	deadline := time.Now().Add(10 * time.Second)
	failed := counterValue(a.vecs.Failed.WithLabelValues("ns", "src"))
	for failed < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		failed = counterValue(a.vecs.Failed.WithLabelValues("ns", "src"))
	}
	stop()
	if failed < 3 {
		t.Errorf("failed = %v", failed)
	}
	drain(s)

	s.setFail(nil)
	run(t, cfg)
	for _, want := range []string{"B", "C"} {
		if got := string(s.next(t).Data()); got != want {
			t.Fatalf("after restart: %q, want %q", got, want)
		}
	}
}

// drain empties the sink's record of attempts.
func drain(s *sink) {
	for {
		select {
		case <-s.events:
		default:
			return
		}
	}
}

// TestLatest: with initialOffset latest a new group skips what was in the topic before.
func TestLatest(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	produce(t, c.ListenAddrs(), &sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("old")})
	s := newSink()
	run(t, Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"t"}, ConsumerGroup: "g", Sender: s})
	// Probe until the group has joined and reads; the old record must not come.
	deadline := time.Now().Add(30 * time.Second)
	for {
		produce(t, c.ListenAddrs(), &sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("probe")})
		select {
		case ev := <-s.events:
			if string(ev.Data()) != "probe" {
				t.Fatalf("got %q", ev.Data())
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no event")
		}
	}
}

// TestPartitions: three brokers, three partitions; each partition's records arrive in order.
func TestPartitions(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3), kfake.SeedTopics(3, "a", "b"))
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 60; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: []string{"a", "b"}[i%2], Partition: int32(i % 3), Value: sarama.StringEncoder(fmt.Sprint(i))})
	}
	produce(t, c.ListenAddrs(), msgs...)
	s := newSink()
	run(t, Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"a", "b"}, ConsumerGroup: "g", InitialOffset: OffsetEarliest, Sender: s})
	last := map[string]int{}
	for i := 0; i < 60; i++ {
		ev := s.next(t)
		var p, o int
		if _, err := fmt.Sscanf(ev.Subject(), "partition:%d#%d", &p, &o); err != nil {
			t.Fatal(err)
		}
		k := ev.Source() + fmt.Sprint(p)
		if prev, ok := last[k]; ok && o != prev+1 {
			t.Errorf("%s: offset %d after %d", k, o, prev)
		}
		last[k] = o
	}
	if len(last) != 6 {
		t.Errorf("partitions seen: %v", last)
	}
}

// TestSASL consumes as a SCRAM and a PLAIN user, and checks a wrong password shows in no log.
func TestSASL(t *testing.T) {
	users := map[string][2]string{
		SASLPlain:       {"plain-user", "plain-secret-1"},
		SASLScramSHA256: {"scram256-user", "scram-secret-256"},
		SASLScramSHA512: {"scram512-user", "scram-secret-512"},
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, "t"), kfake.EnableSASL()}
	for mech, up := range users {
		opts = append(opts, kfake.Superuser(mech, up[0], up[1]))
	}
	c := newCluster(t, opts...)
	pcfg := sarama.NewConfig()
	pcfg.Producer.Return.Successes = true
	pcfg.Net.SASL.Enable, pcfg.Net.SASL.User, pcfg.Net.SASL.Password = true, "plain-user", "plain-secret-1"
	p, err := sarama.NewSyncProducer(c.ListenAddrs(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Value: sarama.StringEncoder("x")}); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for mech, up := range users {
		t.Run(mech, func(t *testing.T) {
			s := newSink()
			run(t, Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"t"}, ConsumerGroup: "g-" + mech, InitialOffset: OffsetEarliest,
				SASL: SASLConfig{Mechanism: mech, User: up[0], Password: up[1]}, Sender: s})
			if ev := s.next(t); string(ev.Data()) != "x" {
				t.Errorf("got %q", ev.Data())
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		var logs syncBuffer
		a, err := New(Config{BootstrapServers: c.ListenAddrs(), Topics: []string{"t"}, ConsumerGroup: "g",
			SASL:      SASLConfig{Mechanism: SASLScramSHA256, User: "scram256-user", Password: "wrong-s3cr3t"},
			Namespace: "ns", Name: "n", Sender: newSink(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(logs.String(), "cannot reach the brokers") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		out := logs.String()
		if !strings.Contains(out, "cannot reach the brokers") || strings.Contains(out, "s3cr3t") {
			t.Errorf("log: %s", out)
		}
		for _, s := range []string{a.cfg.String(), fmt.Sprintf("%#v", a.cfg), fmt.Sprintf("%v", a.cfg.SASL)} {
			if strings.Contains(s, "s3cr3t") {
				t.Errorf("printed: %s", s)
			}
		}
	})
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		keyType string
		key     []byte
		want    any
		text    string
	}{
		{"", []byte("k1"), "k1", "k1"},
		{KeyString, []byte{0xff}, []byte{0xff}, "/w=="},
		{KeyInt, []byte{0, 0, 0, 42}, int32(42), "42"},
		{KeyInt, []byte{0xff, 0xfe}, int32(-2), "-2"},
		{KeyInt, []byte{0, 0, 0, 1, 0, 0, 0, 0}, "4294967296", "4294967296"},
		{KeyInt, []byte("abc"), "abc", "abc"},
		{KeyFloat, []byte{0x40, 0x49, 0x0f, 0xdb}, "3.1415927410125732", "3.1415927410125732"},
		{KeyFloat, []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, "1.5", "1.5"},
		{KeyByteArray, []byte{1, 2}, []byte{1, 2}, "AQI="},
	} {
		ev, pass := ToEvent(Record{Topic: "t", Key: tc.key, Value: []byte("v")}, "ns", "n", tc.keyType)
		if pass {
			t.Fatal("plain record passed as a CloudEvent")
		}
		if got := ev.Extensions()["key"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %x: key %#v, want %#v", tc.keyType, tc.key, got, tc.want)
		}
		if got := ev.Extensions()["partitionkey"]; got != tc.text {
			t.Errorf("%s %x: partitionkey %#v, want %q", tc.keyType, tc.key, got, tc.text)
		}
	}
	// A tombstone without key, headers or timestamp.
	ev, _ := ToEvent(Record{Topic: "t", Partition: 2, Offset: 7}, "ns", "n", "")
	if ev.Data() != nil || !ev.Time().IsZero() || len(ev.Extensions()) != 0 || ev.ID() != "partition:2/offset:7" || ev.Validate() != nil {
		t.Errorf("tombstone: %v", ev)
	}
}

func TestConfig(t *testing.T) {
	ok := Config{BootstrapServers: []string{"localhost:9092"}, Topics: []string{"t"}, ConsumerGroup: "g", Namespace: "ns", Name: "n", Sender: newSink()}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no servers", func(c *Config) { c.BootstrapServers = nil }, "bootstrapServers is required"},
		{"bad server", func(c *Config) { c.BootstrapServers = []string{"localhost"} }, "not host:port"},
		{"no topics", func(c *Config) { c.Topics = nil }, "topics is required"},
		{"bad topic", func(c *Config) { c.Topics = []string{"a/b"} }, "not a Kafka topic"},
		{"no group", func(c *Config) { c.ConsumerGroup = "" }, "consumerGroup"},
		{"bad offset", func(c *Config) { c.InitialOffset = "oldest" }, "initialOffset"},
		{"bad key type", func(c *Config) { c.KeyType = "uuid" }, "keyType"},
		{"bad version", func(c *Config) { c.KafkaVersion = "x" }, "kafkaVersion"},
		{"bad mechanism", func(c *Config) { c.SASL = SASLConfig{Mechanism: "GSSAPI", User: "u", Password: "s3cr3t-pw"} }, "GSSAPI"},
		{"no user", func(c *Config) { c.SASL = SASLConfig{Enable: true, Password: "s3cr3t-pw"} }, "needs a user"},
		{"bad CA", func(c *Config) { c.TLS = TLSConfig{CACert: []byte("s3cr3t")} }, "no PEM"},
		{"cert without key", func(c *Config) { c.TLS = TLSConfig{Cert: []byte("x")} }, "together"},
		{"bad key", func(c *Config) {
			c.TLS = TLSConfig{Cert: []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), Key: []byte("s3cr3t")}
		}, "TLS client certificate"},
		{"no sender", func(c *Config) { c.Sender = nil }, "Sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	a, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.InitialOffset != OffsetLatest || a.cfg.KeyType != KeyString {
		t.Errorf("defaults: %+v", a.cfg)
	}
}

// counterValue reads a counter.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// eventuallyEqual polls f until it returns want.
func eventuallyEqual(t *testing.T, what string, f func() float64, want float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for f() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", what, f(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
