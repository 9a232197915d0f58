package pubsub

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/eddyplatform/eddy/bus"
)

// TestOrderedFollowers checks the member's per-key gate with what Google
// Cloud may do and pstest never does: hand out several messages of one
// ordering key in one Pull. Only the oldest is delivered; an ack releases
// the next; a nack or an expiry sends the waiting ones back with it. No
// server is involved: the member is driven by hand.
func TestOrderedFollowers(t *testing.T) {
	b := &Bus{cfg: Config{}.withDefaults(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	g := &group{b: b, name: "projects/p/subscriptions/s", members: map[*member]struct{}{}, kick: make(chan struct{}, 1)}
	m := newMember(context.Background(), b, g, bus.SubscribeOptions{MaxInFlight: 10},
		&pb.Subscription{AckDeadlineSeconds: 10, EnableMessageOrdering: true})
	msg := func(id, key string) *pb.ReceivedMessage {
		pm, err := encodeEvent(testEvent(id, key))
		if err != nil {
			t.Fatal(err)
		}
		pm.MessageId = id
		return &pb.ReceivedMessage{AckId: "ack-" + id, Message: pm}
	}
	ready := func() []string {
		m.mu.Lock()
		defer m.mu.Unlock()
		var ids []string
		for _, d := range m.ready {
			ids = append(ids, d.msgID)
		}
		return ids
	}
	want := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}

	m.add([]*pb.ReceivedMessage{msg("a1", "a"), msg("b1", "b"), msg("a2", "a"), msg("a3", "a"), msg("x", "")})
	want("ready after the pull", ready(), []string{"a1", "b1", "x"})
	a1 := m.next()
	if err := a1.Ack(); err != nil {
		t.Fatal(err)
	}
	want("ready after a1 is acked", ready(), []string{"b1", "x", "a2"})
	m.next() // b1
	m.next() // x
	a2 := m.next()
	if a2.msgID != "a2" {
		t.Fatalf("next = %s, want a2", a2.msgID)
	}
	if err := a2.Nack(); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	want("acks", g.acks, []string{"ack-a1"})
	want("nacks after a2 is nacked", g.nacks, []string{"ack-a2", "ack-a3"})
	g.nacks = nil
	g.mu.Unlock()
	if n := m.room(); n != 10-2 { // b1 and x are out
		t.Errorf("room = %d, want 8", n)
	}

	// Pub/Sub delivers a2 and a3 again; a2 expires this time.
	m.add([]*pb.ReceivedMessage{msg("a2", "a"), msg("a3", "a")})
	want("ready after the redelivery", ready(), []string{"a2"})
	a2 = m.next()
	m.mu.Lock()
	a2.deadline = time.Now().Add(-time.Millisecond)
	m.mu.Unlock()
	a2.expire()
	g.mu.Lock()
	want("nacks after a2 expired", g.nacks, []string{"ack-a2", "ack-a3"})
	g.mu.Unlock()
	if err := a2.Nack(); err != nil {
		t.Errorf("late Nack: %v", err)
	}
	if err := a2.ExtendDeadline(time.Second); err == nil {
		t.Errorf("ExtendDeadline of an expired delivery succeeded")
	}
	want("ready at the end", ready(), nil)
}
