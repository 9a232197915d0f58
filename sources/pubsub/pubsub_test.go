package pubsub

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/sources"
)

// The tests run pstest, Google's Pub/Sub server for tests, in this process on a localhost
// port, and talk to it over gRPC as to Pub/Sub.

func startServer(t *testing.T) *pstest.Server {
	t.Helper()
	var srv *pstest.Server
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("cannot start the in-process Pub/Sub server (pstest): %v; it needs a free localhost port", r)
			}
		}()
		srv = pstest.NewServer()
	}()
	t.Cleanup(func() { srv.Close() })
	return srv
}

// admin returns a Pub/Sub client of srv for the test's own calls.
func admin(t *testing.T, srv *pstest.Server, project string) *pubsub.Client {
	t.Helper()
	c, err := pubsub.NewClient(context.Background(), project,
		option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func createTopic(t *testing.T, c *pubsub.Client, name string) {
	t.Helper()
	if _, err := c.TopicAdminClient.CreateTopic(context.Background(), &pb.Topic{Name: name}); err != nil {
		t.Fatal(err)
	}
}

func createSubscription(t *testing.T, c *pubsub.Client, name, topic string) {
	t.Helper()
	if _, err := c.SubscriptionAdminClient.CreateSubscription(context.Background(), &pb.Subscription{Name: name, Topic: topic}); err != nil {
		t.Fatal(err)
	}
}

func testLogger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("EDDY_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// sink is a Sender recording every event; fail decides whether an attempt fails.
type sink struct {
	events chan event.Event
	mu     sync.Mutex
	fail   func(ev event.Event) bool
}

func newSink() *sink { return &sink{events: make(chan event.Event, 1000)} }

func (s *sink) Send(_ context.Context, ev event.Event) error {
	s.events <- ev
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil && s.fail(ev) {
		return errors.New("sink answered 500")
	}
	return nil
}

func (s *sink) next(t *testing.T) event.Event {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no event")
		return event.Event{}
	}
}

// run starts an adapter and returns a function that stops it and returns Run's error.
func run(t *testing.T, cfg Config) (*Adapter, func() error) {
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
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(20 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return a, stop
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRecordedExamples publishes the messages of google-cloudevents' examples (project
// test-project, topic my-topic, subscription my-subscription, publish time
// 2021-02-05T04:06:14.109Z) and compares the events with the recorded ones. Only the message
// id differs, as the server gives it.
func TestRecordedExamples(t *testing.T) {
	srv := startServer(t)
	published := time.Date(2021, 2, 5, 4, 6, 14, 109_000_000, time.UTC)
	srv.SetTimeNowFunc(func() time.Time { return published })
	c := admin(t, srv, "test-project")
	const topic, sub = "projects/test-project/topics/my-topic", "projects/test-project/subscriptions/my-subscription"
	createTopic(t, c, topic)
	createSubscription(t, c, sub, topic)
	s := newSink()
	reg := prometheus.NewRegistry()
	a, _ := run(t, Config{Project: "test-project", Topic: "my-topic", SubscriptionID: "my-subscription",
		Endpoint: srv.Addr, Namespace: "ns", Name: "src", Sender: s, Registerer: reg})

	// The complex example, as a whole structured event and as binary-mode data.
	id := srv.PublishOrdered(topic, []byte("test message 3"), map[string]string{"attr1": "attr1-value"}, "ordering-key")
	ev := s.next(t)
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	want := readJSON(t, "google-cloudevents/examples/structured/pubsub/MessagePublishedData.json")
	want["id"] = id
	want["data"].(map[string]any)["message"].(map[string]any)["messageId"] = id
	if got := toMap(t, ev); !reflect.DeepEqual(got, want) {
		t.Errorf("structured event:\n got %v\nwant %v", got, want)
	}
	wantData := readJSON(t, "google-cloudevents/examples/binary/pubsub/MessagePublishedData-complex.json")
	wantData["message"].(map[string]any)["messageId"] = id
	var gotData map[string]any
	if err := json.Unmarshal(ev.Data(), &gotData); err != nil || !reflect.DeepEqual(gotData, wantData) {
		t.Errorf("data %s, want %v (%v)", ev.Data(), wantData, err)
	}
	if ev.DataContentType() != "application/json" || len(ev.Extensions()) != 0 {
		t.Errorf("content type %q, extensions %v", ev.DataContentType(), ev.Extensions())
	}

	// The simple example: binary data, no attributes.
	id2 := srv.Publish(topic, []byte{1, 2, 3, 4}, nil)
	ev = s.next(t)
	wantData = readJSON(t, "google-cloudevents/examples/binary/pubsub/MessagePublishedData-simple.json")
	wantData["message"].(map[string]any)["messageId"] = id2
	if err := json.Unmarshal(ev.Data(), &gotData); err != nil || !reflect.DeepEqual(gotData, wantData) {
		t.Errorf("data %s, want %v (%v)", ev.Data(), wantData, err)
	}
	if ev.ID() != id2 || !ev.Time().Equal(published) || ev.Source() != "//pubsub.googleapis.com/projects/test-project/topics/my-topic" {
		t.Errorf("context %v", ev.Context)
	}

	// Both acknowledged, once.
	eventually(t, "acks", func() bool { return srv.Message(id).Acks == 1 && srv.Message(id2).Acks == 1 })
	if d := srv.Message(id).Deliveries; d != 1 {
		t.Errorf("%d deliveries", d)
	}
	eventually(t, "sent counted", func() bool { return counterValue(a.vecs.Sent.WithLabelValues("ns", "src")) == 2 })
	if et := a.EventTypes(); len(et) != 1 || et[0].Source != "//pubsub.googleapis.com/projects/test-project/topics/my-topic" ||
		et[0].Type != EventType || et[0].Schema != DataSchema {
		t.Errorf("EventTypes %+v", et)
	}
}

// TestNackRedelivery: the sink fails the first attempt; the message is nacked, Pub/Sub
// delivers it again, and it is acknowledged after the second send.
func TestNackRedelivery(t *testing.T) {
	srv := startServer(t)
	c := admin(t, srv, "p")
	createTopic(t, c, "projects/p/topics/t")
	createSubscription(t, c, "projects/p/subscriptions/s", "projects/p/topics/t")
	s := newSink()
	var attempts int
	s.fail = func(event.Event) bool { attempts++; return attempts == 1 }
	a, _ := run(t, Config{Project: "p", Topic: "t", SubscriptionID: "s", Endpoint: srv.Addr, Namespace: "ns", Name: "n", Sender: s})
	id := srv.Publish("projects/p/topics/t", []byte(`{"n":1}`), map[string]string{"k": "v"})
	first, second := s.next(t), s.next(t)
	if first.ID() != id || second.ID() != id {
		t.Fatalf("ids %s, %s, want %s twice", first.ID(), second.ID(), id)
	}
	eventually(t, "ack", func() bool { return srv.Message(id).Acks == 1 })
	m := srv.Message(id)
	if m.Deliveries != 2 {
		t.Errorf("%d deliveries, want 2", m.Deliveries)
	}
	nacked := false
	for _, mod := range m.Modacks {
		nacked = nacked || mod.AckDeadline == 0
	}
	if !nacked {
		t.Errorf("no nack among %+v", m.Modacks)
	}
	select {
	case ev := <-s.events:
		t.Errorf("a third delivery: %s", ev.ID())
	default:
	}
	if f, sent := counterValue(a.vecs.Failed.WithLabelValues("ns", "n")), counterValue(a.vecs.Sent.WithLabelValues("ns", "n")); f != 1 || sent != 1 {
		t.Errorf("failed %v sent %v", f, sent)
	}
}

// TestStopNacks: a message whose send is in progress when Run stops is nacked, not acked, and
// the next run delivers it.
func TestStopNacks(t *testing.T) {
	srv := startServer(t)
	c := admin(t, srv, "p")
	createTopic(t, c, "projects/p/topics/t")
	createSubscription(t, c, "projects/p/subscriptions/s", "projects/p/topics/t")
	started := make(chan struct{})
	blocking := sources.SenderFunc(func(ctx context.Context, ev event.Event) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	_, stop := run(t, Config{Project: "p", Topic: "t", SubscriptionID: "s", Endpoint: srv.Addr, Namespace: "ns", Name: "n", Sender: blocking})
	id := srv.Publish("projects/p/topics/t", []byte("x"), nil)
	<-started
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if m := srv.Message(id); m.Acks != 0 || len(m.Modacks) == 0 || m.Modacks[len(m.Modacks)-1].AckDeadline != 0 {
		t.Fatalf("after stop: acks %d modacks %+v", m.Acks, m.Modacks)
	}
	s := newSink()
	run(t, Config{Project: "p", Topic: "t", SubscriptionID: "s", Endpoint: srv.Addr, Namespace: "ns", Name: "n", Sender: s})
	if ev := s.next(t); ev.ID() != id {
		t.Errorf("got %s", ev.ID())
	}
	eventually(t, "ack", func() bool { return srv.Message(id).Acks == 1 })
}

// TestOwnSubscription: without SubscriptionID the adapter creates its subscription, keeps it
// across runs (a message published while it is stopped arrives on the next run) and
// DeleteSubscription removes it.
func TestOwnSubscription(t *testing.T) {
	srv := startServer(t)
	c := admin(t, srv, "p")
	createTopic(t, c, "projects/p/topics/t")
	s := newSink()
	cfg := Config{Project: "p", Topic: "t", Endpoint: srv.Addr, AckDeadline: 20 * time.Second, RetainAckedMessages: true,
		RetentionDuration: time.Hour, Namespace: "default", Name: "my-source", Sender: s}
	a, stop := run(t, cfg)
	const name = "projects/p/subscriptions/eddy-pubsubsource_default_my-source"
	var got *pb.Subscription
	eventually(t, "subscription", func() bool {
		var err error
		got, err = c.SubscriptionAdminClient.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: name})
		return err == nil
	})
	if got.GetTopic() != "projects/p/topics/t" || got.GetAckDeadlineSeconds() != 20 || !got.GetRetainAckedMessages() ||
		got.GetMessageRetentionDuration().AsDuration() != time.Hour || got.GetLabels()["managed-by"] != "eddy" {
		t.Errorf("subscription %v", got)
	}
	id := srv.Publish("projects/p/topics/t", []byte("one"), nil)
	if ev := s.next(t); ev.ID() != id {
		t.Errorf("got %s", ev.ID())
	}
	var data MessagePublishedData
	eventually(t, "ack", func() bool { return srv.Message(id).Acks == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	id2 := srv.Publish("projects/p/topics/t", []byte("two"), nil)
	run(t, cfg)
	ev := s.next(t)
	if err := json.Unmarshal(ev.Data(), &data); err != nil || ev.ID() != id2 || string(data.Message.Data) != "two" || data.Subscription != name {
		t.Errorf("second run: %s %+v %v", ev.ID(), data, err)
	}

	if err := a.DeleteSubscription(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := c.SubscriptionAdminClient.GetSubscription(context.Background(), &pb.GetSubscriptionRequest{Subscription: name})
	if status.Code(err) != codes.NotFound {
		t.Errorf("after DeleteSubscription: %v", err)
	}
	if err := a.DeleteSubscription(context.Background()); err != nil {
		t.Errorf("second DeleteSubscription: %v", err)
	}
}

// TestFatalErrors: Run returns at once when retrying cannot help.
func TestFatalErrors(t *testing.T) {
	srv := startServer(t)
	c := admin(t, srv, "p")
	createTopic(t, c, "projects/p/topics/t")
	createTopic(t, c, "projects/p/topics/other")
	createSubscription(t, c, "projects/p/subscriptions/on-other", "projects/p/topics/other")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no topic", Config{Topic: "missing"}, "topic projects/p/topics/missing"},
		{"no subscription", Config{Topic: "t", SubscriptionID: "missing"}, "subscription projects/p/subscriptions/missing"},
		{"other topic", Config{Topic: "t", SubscriptionID: "on-other"}, "reads topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Project, cfg.Endpoint, cfg.Namespace, cfg.Name, cfg.Sender, cfg.Logger = "p", srv.Addr, "ns", "n", newSink(), testLogger()
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err = a.Run(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ctx.Err() != nil {
				t.Errorf("Run: %v, want an error with %q", err, tc.want)
			}
		})
	}

	// A subscription deleted while the adapter runs ends it.
	createSubscription(t, c, "projects/p/subscriptions/gone", "projects/p/topics/t")
	a, err := New(Config{Project: "p", Topic: "t", SubscriptionID: "gone", Endpoint: srv.Addr, Namespace: "ns", Name: "n", Sender: newSink(), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	if err := c.SubscriptionAdminClient.DeleteSubscription(context.Background(), &pb.DeleteSubscriptionRequest{Subscription: "projects/p/subscriptions/gone"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if status.Code(errors.Unwrap(err)) != codes.NotFound && !strings.Contains(err.Error(), "NotFound") {
			t.Errorf("Run after deletion: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run goes on without its subscription")
	}
}

func TestConfig(t *testing.T) {
	t.Setenv(EnvEmulatorHost, "")
	ok := Config{Project: "p", Topic: "t", Endpoint: "localhost:1", Namespace: "ns", Name: "n", Sender: newSink()}
	secret := `{"type":"service_account","project_id":"from-key","private_key":"s3cr3t-k3y-material"}`
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no topic", func(c *Config) { c.Topic = "" }, "topic is required"},
		{"bad topic", func(c *Config) { c.Topic = "projects/p/subscriptions/x" }, "neither an id"},
		{"bad subscription", func(c *Config) { c.SubscriptionID = "a/b" }, "neither an id"},
		{"no project", func(c *Config) { c.Project = "" }, "project is required"},
		{"both endpoints", func(c *Config) { c.APIEndpoint = "x:443" }, "exclude each other"},
		{"bad credentials", func(c *Config) { c.CredentialsJSON = []byte("not json " + secret) }, "not JSON"},
		{"no sender", func(c *Config) { c.Sender = nil }, "Sender"},
		{"no name", func(c *Config) { c.Name = "" }, "namespace and name"},
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
	cfg := Config{Topic: "t", CredentialsJSON: []byte(secret), Namespace: "ns", Name: "n", Sender: newSink()}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if et := a.EventTypes(); et[0].Source != "//pubsub.googleapis.com/projects/from-key/topics/t" {
		t.Errorf("source %q", et[0].Source)
	}
	for _, s := range []string{cfg.String(), cfg.GoString(), cfg.LogValue().String()} {
		if strings.Contains(s, "s3cr3t") || !strings.Contains(s, "[redacted]") {
			t.Errorf("config printed as %s", s)
		}
	}
	if got := DefaultSubscriptionID("ns", strings.Repeat("n", 300)); len(got) != 255 || !strings.HasPrefix(got, "eddy-pubsubsource_ns_nnn") {
		t.Errorf("long id %q (%d)", got, len(got))
	}
}

// TestDecodeRecorded decodes every recorded data file and push body.
func TestDecodeRecorded(t *testing.T) {
	pt := time.Date(2021, 2, 5, 4, 6, 14, 109_000_000, time.UTC)
	pt2 := time.Date(2021, 2, 26, 19, 13, 55, 749_000_000, time.UTC)
	hello := "Hello Cloud Pub/Sub! Here is my message!"
	for _, tc := range []struct {
		file string
		want MessagePublishedData
	}{
		{"google-cloudevents/testdata/google/events/cloud/pubsub/v1/MessagePublishedData-binary.json", MessagePublishedData{
			Subscription: "projects/my-project/subscriptions/my-subscription",
			Message:      PubsubMessage{Data: []byte{1, 2, 3, 4}, MessageID: "message-id", PublishTime: pt}}},
		{"google-cloudevents/testdata/google/events/cloud/pubsub/v1/MessagePublishedData-duplicatedFields.json", MessagePublishedData{
			Subscription: "projects/my-project/subscriptions/my-subscription",
			Message:      PubsubMessage{Data: []byte{1, 2, 3, 4}, MessageID: "message-id", PublishTime: pt}}},
		{"google-cloudevents/testdata/google/events/cloud/pubsub/v1/MessagePublishedData-text.json", MessagePublishedData{
			Subscription: "projects/my-project/subscriptions/my-subscription",
			Message:      PubsubMessage{Data: []byte("test message 3"), Attributes: map[string]string{"attr1": "attr1-value"}, MessageID: "message-id", PublishTime: pt}}},
		{"google-cloudevents/examples/binary/pubsub/MessagePublishedData-complex.json", MessagePublishedData{
			Subscription: "projects/test-project/subscriptions/my-subscription",
			Message: PubsubMessage{Data: []byte("test message 3"), Attributes: map[string]string{"attr1": "attr1-value"},
				MessageID: "message-id", PublishTime: pt, OrderingKey: "ordering-key"}}},
		{"docs-examples/push-wrapped-2021-docs.json", MessagePublishedData{
			Subscription: "projects/myproject/subscriptions/mysubscription",
			Message:      PubsubMessage{Data: []byte(hello), Attributes: map[string]string{"key": "value"}, MessageID: "2070443601311540", PublishTime: pt2}}},
		{"docs-examples/push-wrapped-2021-docs-with-deliveryAttempt-orderingKey.json", MessagePublishedData{
			Subscription: "projects/myproject/subscriptions/mysubscription", DeliveryAttempt: 5,
			Message: PubsubMessage{Data: []byte(hello), Attributes: map[string]string{"key": "value"}, MessageID: "2070443601311540",
				PublishTime: pt2, OrderingKey: "key"}}},
		{"docs-examples/push-wrapped-2019-docs-camelcase-only.json", MessagePublishedData{
			Subscription: "projects/myproject/subscriptions/mysubscription",
			Message:      PubsubMessage{Data: []byte(hello), Attributes: map[string]string{"key": "value"}, MessageID: "136969346945"}}},
		{"docs-examples/push-wrapped-2017-docs-snakecase-only.json", MessagePublishedData{
			Subscription: "projects/myproject/subscriptions/mysubscription",
			Message:      PubsubMessage{Data: []byte(hello), Attributes: map[string]string{"key": "value"}, MessageID: "136969346945"}}},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var got MessagePublishedData
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Message.PublishTime.Equal(tc.want.Message.PublishTime) {
				t.Errorf("publish time %s", got.Message.PublishTime)
			}
			got.Message.PublishTime, tc.want.Message.PublishTime = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	// The structured example's data, and the pull response's message.
	var structured struct {
		Data MessagePublishedData `json:"data"`
	}
	b, _ := os.ReadFile("testdata/google-cloudevents/examples/structured/pubsub/MessagePublishedData.json")
	if err := json.Unmarshal(b, &structured); err != nil || structured.Data.Message.OrderingKey != "ordering-key" {
		t.Errorf("structured example: %+v %v", structured.Data, err)
	}
	var pull struct {
		ReceivedMessages []struct {
			AckID           string        `json:"ackId"`
			Message         PubsubMessage `json:"message"`
			DeliveryAttempt int32         `json:"deliveryAttempt"`
		} `json:"receivedMessages"`
	}
	b, _ = os.ReadFile("testdata/docs-examples/pull-response-CONSTRUCTED.json")
	if err := json.Unmarshal(b, &pull); err != nil || len(pull.ReceivedMessages) != 1 ||
		string(pull.ReceivedMessages[0].Message.Data) != hello || !pull.ReceivedMessages[0].Message.PublishTime.Equal(pt2) {
		t.Errorf("pull response: %+v %v", pull, err)
	}
	// Conflicting duplicates are refused.
	if err := json.Unmarshal([]byte(`{"message":{"messageId":"a","message_id":"b"}}`), new(MessagePublishedData)); err == nil {
		t.Error("conflicting ids accepted")
	}
}

func TestFormatTimestamp(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2021, 2, 5, 4, 6, 14, 0, time.UTC):                  "2021-02-05T04:06:14Z",
		time.Date(2021, 2, 5, 4, 6, 14, 100_000_000, time.UTC):        "2021-02-05T04:06:14.100Z",
		time.Date(2021, 2, 5, 4, 6, 14, 123_456_000, time.UTC):        "2021-02-05T04:06:14.123456Z",
		time.Date(2021, 2, 5, 5, 6, 14, 1, time.FixedZone("x", 3600)): "2021-02-05T04:06:14.000000001Z",
	} {
		if got := formatTimestamp(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
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
