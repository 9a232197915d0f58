package pubsub

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/bustest"
)

// The tests talk to pstest, Google's Pub/Sub fake, run in this process on a
// localhost port: each test starts its own server.

// startServer starts a pstest server, closed when the test ends.
func startServer(t testing.TB) *pstest.Server {
	t.Helper()
	var srv *pstest.Server
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("cannot start the in-process Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest): %v; it needs a free TCP port on localhost", r)
			}
		}()
		srv = pstest.NewServer()
	}()
	t.Cleanup(func() { srv.Close() })
	return srv
}

// testConfig returns a config for the emulator at addr with a fresh prefix.
func testConfig(addr string) Config {
	var b [4]byte
	rand.Read(b[:])
	level := slog.LevelWarn
	if os.Getenv("PUBSUB_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return Config{
		Project:     "eddy-test",
		TopicPrefix: "t" + hex.EncodeToString(b[:]),
		Endpoint:    addr,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

// open returns a bus, closed when the test ends.
func open(t testing.TB, cfg Config) *Bus {
	t.Helper()
	b, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
		srv := startServer(t)
		cfg := testConfig(srv.Addr)
		return open(t, cfg), func(t *testing.T) bus.Bus { return open(t, cfg) }
	}})
}

// testEvent returns a valid event with the given id and partition key.
func testEvent(id, key string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/eddy/bus/pubsub/test")
	e.SetType("dev.eddy.test.v1")
	if err := e.SetData(event.ApplicationJSON, map[string]string{"id": id}); err != nil {
		panic(err)
	}
	if key != "" {
		e.SetExtension(bus.PartitionKeyExtension, key)
	}
	return &e
}

// recv waits for a delivery.
func recv(t *testing.T, sub bus.Subscription) bus.Delivery {
	t.Helper()
	select {
	case d, ok := <-sub.Deliveries():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return d
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery within 30s")
	}
	return nil
}

// expectNone fails if a delivery arrives within d.
func expectNone(t *testing.T, sub bus.Subscription, d time.Duration) {
	t.Helper()
	select {
	case got, ok := <-sub.Deliveries():
		if ok {
			t.Fatalf("unexpected delivery of %s (attempt %d)", got.Event().ID(), got.Attempt())
		}
		t.Fatalf("subscription ended: %v", sub.Err())
	case <-time.After(d):
	}
}

// expectEnd waits until the subscription's channel closes.
func expectEnd(t *testing.T, sub bus.Subscription) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case _, ok := <-sub.Deliveries():
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("subscription did not end within 30s")
		}
	}
}

func publish(t *testing.T, b bus.Bus, topic string, ids ...string) {
	t.Helper()
	evs := make([]*event.Event, len(ids))
	for i, id := range ids {
		evs[i] = testEvent(id, "")
	}
	if err := b.Publish(context.Background(), topic, evs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func ensureTopic(t *testing.T, b bus.Bus, topic string) {
	t.Helper()
	if err := b.EnsureTopic(context.Background(), topic); err != nil {
		t.Fatalf("EnsureTopic: %v", err)
	}
}

func subscribe(t *testing.T, b bus.Bus, topic, group string, opts bus.SubscribeOptions) bus.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), topic, group, opts)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

func TestDeleteGroup(t *testing.T) {
	srv := startServer(t)
	b := open(t, testConfig(srv.Addr))
	ctx := context.Background()
	ensureTopic(t, b, "t")
	sub := subscribe(t, b, "t", "g", bus.SubscribeOptions{})
	publish(t, b, "t", "before")
	recv(t, sub) // not settled: the group goes with it
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, sub)
	if err := sub.Err(); err != nil {
		t.Errorf("Err after DeleteGroup = %v, want nil", err)
	}
	_, err := b.client.SubscriptionAdminClient.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: b.subscriptionName("t", "g")})
	if status.Code(err) != codes.NotFound {
		t.Errorf("subscription still there after DeleteGroup: %v", err)
	}
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Errorf("deleting a missing group: %v", err)
	}
	// A new group of that name starts afresh, at the latest event, and may
	// choose another ordering.
	sub = subscribe(t, b, "t", "g", bus.SubscribeOptions{Ordered: true})
	publish(t, b, "t", "after")
	if d := recv(t, sub); d.Event().ID() != "after" {
		t.Errorf("recreated group got %s first, want after", d.Event().ID())
	} else {
		d.Ack()
	}
	expectNone(t, sub, 300*time.Millisecond)
}

// TestDeletedElsewhere: members in another process (another Bus) end when
// the topic or the group is deleted: with ErrTopicNotFound for the topic,
// with no error for the group.
func TestDeletedElsewhere(t *testing.T) {
	srv := startServer(t)
	cfg := testConfig(srv.Addr)
	here, there := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	ensureTopic(t, here, "t")
	byTopic := subscribe(t, there, "t", "g1", bus.SubscribeOptions{})
	byGroup := subscribe(t, there, "t", "g2", bus.SubscribeOptions{})
	if err := here.DeleteGroup(ctx, "t", "g2"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, byGroup)
	if err := byGroup.Err(); err != nil {
		t.Errorf("Err after the group was deleted elsewhere = %v, want nil", err)
	}
	if err := here.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, byTopic)
	if err := byTopic.Err(); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Err after the topic was deleted elsewhere = %v, want ErrTopicNotFound", err)
	}
}

// TestLeftoverSubscriptionReplaced: a subscription left attached to
// "_deleted-topic_" (the topic deleted outside the bus) is replaced when the
// topic is made again, and Subscribe to the missing topic says so.
func TestLeftoverSubscriptionReplaced(t *testing.T) {
	srv := startServer(t)
	b := open(t, testConfig(srv.Addr))
	ctx := context.Background()
	ensureTopic(t, b, "t")
	subscribe(t, b, "t", "g", bus.SubscribeOptions{}).Close()
	if err := b.client.TopicAdminClient.DeleteTopic(ctx, &pb.DeleteTopicRequest{Topic: b.topicName("t")}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(ctx, "t", "g", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Subscribe with the topic deleted: %v, want ErrTopicNotFound", err)
	}
	ensureTopic(t, b, "t")
	sub := subscribe(t, b, "t", "g", bus.SubscribeOptions{})
	publish(t, b, "t", "x")
	if d := recv(t, sub); d.Event().ID() != "x" {
		t.Errorf("got %s, want x", d.Event().ID())
	}
}

// TestLeaseOutlivesSubscriptionDeadline: deliveries held longer than the
// subscription's own ack deadline (Pub/Sub's 10s minimum) are not handed out
// again, whether the member has received them or not: the bus extends
// their leases until its own deadline.
func TestLeaseOutlivesSubscriptionDeadline(t *testing.T) {
	srv := startServer(t)
	cfg := testConfig(srv.Addr)
	cfg.AckDeadline = 10 * time.Second // the subscription's deadline
	b := open(t, cfg)
	ensureTopic(t, b, "t")
	sub := subscribe(t, b, "t", "g", bus.SubscribeOptions{AckDeadline: 20 * time.Second, MaxInFlight: 10})
	publish(t, b, "t", "a", "b")
	first := recv(t, sub)
	if err := first.(bus.DeadlineExtender).ExtendDeadline(25 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The other event is pulled, and waits for the member to take it.
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for pulled := 0; pulled < 2; {
		<-poll.C
		pulled = 0
		for _, m := range srv.Messages() {
			pulled += m.Deliveries
		}
	}
	// Let Pub/Sub's 10s deadline pass for both; the time is the test.
	<-time.After(13 * time.Second)
	second := recv(t, sub)
	for _, d := range []bus.Delivery{first, second} {
		if d.Attempt() != 1 {
			t.Errorf("%s: attempt %d, want 1", d.Event().ID(), d.Attempt())
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range srv.Messages() {
		if m.Deliveries != 1 {
			t.Errorf("Pub/Sub delivered %s %d times, want once", m.ID, m.Deliveries)
		}
	}
	expectNone(t, sub, 300*time.Millisecond)
}

// TestForeignMessageDropped: a message that is not a CloudEvent is
// acknowledged and skipped.
func TestForeignMessageDropped(t *testing.T) {
	srv := startServer(t)
	b := open(t, testConfig(srv.Addr))
	ensureTopic(t, b, "t")
	sub := subscribe(t, b, "t", "g", bus.SubscribeOptions{})
	id := srv.Publish(b.topicName("t"), []byte("not an event"), map[string]string{"k": "v"})
	publish(t, b, "t", "real")
	if d := recv(t, sub); d.Event().ID() != "real" {
		t.Errorf("got %s, want real", d.Event().ID())
	} else {
		d.Ack()
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	timeout := time.After(10 * time.Second)
	for srv.Message(id).Acks == 0 {
		select {
		case <-poll.C:
		case <-timeout:
			t.Fatal("the foreign message was not acknowledged")
		}
	}
}

// TestLargeEvent: a 3 MiB event (pstest's gRPC server takes 4 MiB per
// request) arrives whole.
func TestLargeEvent(t *testing.T) {
	srv := startServer(t)
	b := open(t, testConfig(srv.Addr))
	ensureTopic(t, b, "t")
	sub := subscribe(t, b, "t", "g", bus.SubscribeOptions{})
	e := testEvent("large", "k")
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i)
	}
	if err := e.SetData("application/octet-stream", data); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(context.Background(), "t", e); err != nil {
		t.Fatal(err)
	}
	d := recv(t, sub)
	if !bytes.Equal(d.Event().Data(), data) || bus.PartitionKey(d.Event()) != "k" {
		t.Errorf("large event changed on the way")
	}
	d.Ack()
}

func TestPublishAndSubscribeErrors(t *testing.T) {
	srv := startServer(t)
	b := open(t, testConfig(srv.Addr))
	ensureTopic(t, b, "t")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, "t", testEvent("x", "")); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a canceled context: %v", err)
	}
	for _, pos := range []bus.Position{bus.Earliest(), bus.AtTime(time.Now()), bus.AtOffset(0)} {
		if _, err := b.Subscribe(context.Background(), "t", "g", bus.SubscribeOptions{StartFrom: pos}); !errors.Is(err, bus.ErrUnsupported) {
			t.Errorf("Subscribe from %v: %v, want ErrUnsupported", pos, err)
		}
	}
	subscribe(t, b, "t", "ordered", bus.SubscribeOptions{Ordered: true}).Close()
	// The group's ordering stays, even with no member live.
	if _, err := b.Subscribe(context.Background(), "t", "ordered", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrGroupMismatch) {
		t.Errorf("unordered Subscribe to an ordered group: %v, want ErrGroupMismatch", err)
	}
}
