package rabbitmq

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/eddyplatform/eddy/bus"
)

// recvOne waits for one delivery.
func recvOne(t *testing.T, sub bus.Subscription) bus.Delivery {
	t.Helper()
	select {
	case d, ok := <-sub.Deliveries():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return d
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery within 20s")
	}
	return nil
}

// waitEnd waits for the subscription to end and returns its Err.
func waitEnd(t *testing.T, sub bus.Subscription) error {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-sub.Deliveries():
			if !ok {
				return sub.Err()
			}
		case <-timeout:
			t.Fatal("subscription did not end within 20s")
		}
	}
}

// exists reports whether a queue (or, with exchange, an exchange) exists,
// by a passive declare on a plain AMQP connection.
func exists(t *testing.T, conn *amqp.Connection, name string, exchange bool) bool {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if exchange {
		err = ch.ExchangeDeclarePassive(name, amqp.ExchangeFanout, true, false, false, false, nil)
	} else {
		_, err = ch.QueueDeclarePassive(name, true, false, false, false, nil)
	}
	if err != nil && amqpCode(err) != amqp.NotFound {
		t.Fatal(err)
	}
	return err == nil
}

// TestDeadLetter: a message that is not a CloudEvent is not delivered and
// not dropped: it lands in the dead-letter queue; the events after it are
// delivered.
func TestDeadLetter(t *testing.T) {
	const topic = "dl"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	b := openBus(t, testConfig(t, prefix))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t)
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	dc, err := ch.PublishWithDeferredConfirm(b.names.exchange(topic), "", false, false, amqp.Publishing{
		DeliveryMode: amqp.Persistent, MessageId: "garbage-1", ContentType: "text/plain", Body: []byte("not an event"),
	})
	if err != nil || !dc.Wait() {
		t.Fatalf("raw publish: %v", err)
	}
	if err := b.Publish(ctx, topic, testEvent("good-1")); err != nil {
		t.Fatal(err)
	}
	d := recvOne(t, sub)
	if d.Event().ID() != "good-1" {
		t.Fatalf("got %s, want good-1", d.Event().ID())
	}
	d.Ack()
	var dead amqp.Delivery
	waitFor(t, "the message in the dead-letter queue", 20*time.Second, func() bool {
		m, ok, err := ch.Get(b.names.deadLetter(), true)
		if err != nil {
			t.Fatal(err)
		}
		dead = m
		return ok
	})
	if string(dead.Body) != "not an event" || dead.MessageId != "garbage-1" {
		t.Errorf("dead-lettered message %q (id %q)", dead.Body, dead.MessageId)
	}
	deaths, _ := dead.Headers["x-death"].([]any)
	if len(deaths) == 0 {
		t.Fatalf("no x-death header: %v", dead.Headers)
	}
	if death, _ := deaths[0].(amqp.Table); death["queue"] != b.names.queue(topic, "g") || death["reason"] != "rejected" {
		t.Errorf("x-death %v, want queue %s rejected", death, b.names.queue(topic, "g"))
	}
}

// TestDeleteTopicFromAnotherBus: a topic deleted by another process (here,
// another bus with its own connection) ends this bus's subscriptions with
// ErrTopicNotFound, and its exchange, group queues and registry are gone.
func TestDeleteTopicFromAnotherBus(t *testing.T) {
	const topic = "shared"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	a := openBus(t, testConfig(t, prefix))
	cfgB := testConfig(t, prefix)
	cfgB.ConnectionName += "-b"
	b := openBus(t, cfgB)
	ctx := context.Background()
	if err := a.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	subA, err := a.Subscribe(ctx, topic, "g1", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	subB, err := b.Subscribe(ctx, topic, "g2", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, topic, testEvent("before")); err != nil {
		t.Fatal(err)
	}
	recvOne(t, subA).Ack()
	recvOne(t, subB).Ack()

	if err := b.DeleteTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, subA); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("remote member: Err %v, want ErrTopicNotFound", err)
	}
	if err := waitEnd(t, subB); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("local member: Err %v, want ErrTopicNotFound", err)
	}
	conn := rawConn(t)
	for _, q := range []string{a.names.queue(topic, "g1"), a.names.queue(topic, "g2"), a.names.registry(topic), a.names.lock(topic)} {
		if exists(t, conn, q, false) {
			t.Errorf("queue %s still exists", q)
		}
	}
	if exists(t, conn, a.names.exchange(topic), true) {
		t.Errorf("exchange still exists")
	}
	// a believes the topic exists: its publish meets the broker's 404.
	if err := a.Publish(ctx, topic, testEvent("after")); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Publish after a remote delete: %v, want ErrTopicNotFound", err)
	}
	if _, err := a.Subscribe(ctx, topic, "g1", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Subscribe after a remote delete: %v, want ErrTopicNotFound", err)
	}
}

// TestDeleteGroup: DeleteGroup ends the group's members with a nil Err,
// deletes its queue and record, and a later Subscribe starts afresh.
func TestDeleteGroup(t *testing.T) {
	const topic = "groups"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	a := openBus(t, testConfig(t, prefix))
	cfgB := testConfig(t, prefix)
	cfgB.ConnectionName += "-b"
	b := openBus(t, cfgB)
	ctx := context.Background()
	if err := a.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	local, err := a.Subscribe(ctx, topic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keep, err := a.Subscribe(ctx, topic, "keep", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, topic, testEvent("old-1"), testEvent("old-2"), testEvent("old-3")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		recvOne(t, keep).Ack()
	}
	if err := a.DeleteGroup(ctx, topic, "g"); err != nil {
		t.Fatal(err)
	}
	if err := waitEnd(t, local); err != nil {
		t.Errorf("local member: Err %v, want nil", err)
	}
	if err := waitEnd(t, remote); err != nil {
		t.Errorf("remote member: Err %v, want nil", err)
	}
	conn := rawConn(t)
	if exists(t, conn, a.names.queue(topic, "g"), false) {
		t.Error("the group's queue still exists")
	}
	unlock, err := a.lockTopic(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := a.readRegistry(ctx, topic, nil)
	unlock()
	if err != nil || len(groups) != 1 || groups[0] != "keep" {
		t.Errorf("registry holds %v (%v), want [keep]", groups, err)
	}
	if err := a.DeleteGroup(ctx, topic, "g"); err != nil {
		t.Errorf("deleting a missing group: %v", err)
	}
	again, err := a.Subscribe(ctx, topic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx, topic, testEvent("new-1")); err != nil {
		t.Fatal(err)
	}
	if d := recvOne(t, again); d.Event().ID() != "new-1" {
		t.Errorf("recreated group got %s first, want new-1", d.Event().ID())
	}
	if err := keep.Err(); err != nil {
		t.Errorf("other group's member ended: %v", err)
	}
}

// TestOrderedModeIsFixed: a group's ordering is a queue argument, fixed
// until the group is deleted.
func TestOrderedModeIsFixed(t *testing.T) {
	const topic = "modes"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	b := openBus(t, testConfig(t, prefix))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{Ordered: true})
	if err != nil {
		t.Fatal(err)
	}
	sub.Close()
	if _, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrGroupMismatch) {
		t.Errorf("unordered Subscribe to an ordered group: %v, want ErrGroupMismatch", err)
	}
	if err := b.DeleteGroup(ctx, topic, "g"); err != nil {
		t.Fatal(err)
	}
	sub, err = b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{})
	if err != nil {
		t.Fatalf("unordered Subscribe after DeleteGroup: %v", err)
	}
	sub.Close()
	if _, err := b.Subscribe(ctx, topic, "new", bus.SubscribeOptions{StartFrom: bus.Earliest()}); !errors.Is(err, bus.ErrUnsupported) {
		t.Errorf("new group from Earliest: %v, want ErrUnsupported", err)
	}
	if _, err := b.Subscribe(ctx, topic, "g", bus.SubscribeOptions{StartFrom: bus.Earliest()}); err != nil {
		t.Errorf("existing group ignores StartFrom, got %v", err)
	}
}

// TestUnreachableBroker: New fails clearly, without the password, when no
// broker listens.
func TestUnreachableBroker(t *testing.T) {
	cfg := testConfig(t, testPrefix())
	cfg.URL = "amqp://127.0.0.1:1/"
	cfg.Username, cfg.Password = "someone", "do-not-print-me"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, cfg)
	if err == nil {
		t.Fatal("New succeeded without a broker")
	}
	if strings.Contains(err.Error(), "do-not-print-me") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("error %q: want the address and not the password", err)
	}
}

// TestWrongPassword: a refused login fails New without showing the
// password.
func TestWrongPassword(t *testing.T) {
	cfg := testConfig(t, testPrefix())
	cfg.Username, cfg.Password = "guest", "wrong-password-123"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, cfg)
	if err == nil {
		t.Fatal("New succeeded with a wrong password")
	}
	if strings.Contains(err.Error(), "wrong-password-123") {
		t.Errorf("error shows the password: %v", err)
	}
}

// TestCloseStopsGoroutines: after Close, the bus's goroutines (and
// amqp091's) are gone.
func TestCloseStopsGoroutines(t *testing.T) {
	const topic = "leak"
	prefix := testPrefix()
	cleanupTopics(t, prefix, topic)
	before := runtime.NumGoroutine()
	ctx := context.Background()
	b, err := New(ctx, testConfig(t, prefix))
	if err != nil {
		t.Fatalf("RabbitMQ is not reachable (%v): %s", err, startHow)
	}
	if err := b.EnsureTopic(ctx, topic); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b"} {
		sub, err := b.Subscribe(ctx, topic, g, bus.SubscribeOptions{AckDeadline: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, topic, testEvent("x-"+g)); err != nil {
			t.Fatal(err)
		}
		recvOne(t, sub) // left unsettled
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", 10*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}
