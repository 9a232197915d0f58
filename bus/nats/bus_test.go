package nats

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/conformance"
)

func testEvent(id, key string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/nats-test")
	e.SetType("dev.eddy.nats.test.v1")
	if key != "" {
		e.SetExtension(bus.PartitionKeyExtension, key)
	}
	if err := e.SetData(event.TextPlain, "data of "+id); err != nil {
		panic(err)
	}
	return &e
}

func publishIDs(t testing.TB, b bus.Bus, topic string, ids ...string) {
	t.Helper()
	evs := make([]*event.Event, len(ids))
	for i, id := range ids {
		evs[i] = testEvent(id, "")
	}
	if err := b.Publish(context.Background(), topic, evs...); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

func recv(t testing.TB, sub bus.Subscription, timeout time.Duration) bus.Delivery {
	t.Helper()
	select {
	case d, ok := <-sub.Deliveries():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		return d
	case <-time.After(timeout):
		t.Fatalf("no delivery within %v", timeout)
	}
	return nil
}

func expectNone(t testing.TB, sub bus.Subscription, quiet time.Duration) {
	t.Helper()
	select {
	case d, ok := <-sub.Deliveries():
		if ok {
			t.Fatalf("unexpected delivery of %s", d.Event().ID())
		}
	case <-time.After(quiet):
	}
}

func expectEnd(t testing.TB, sub bus.Subscription, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-sub.Deliveries():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("subscription did not end within %v", timeout)
		}
	}
}

func mustSubscribe(t testing.TB, b bus.Bus, topic, group string, opts bus.SubscribeOptions) bus.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), topic, group, opts)
	if err != nil {
		t.Fatalf("Subscribe(%s, %s): %v", topic, group, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

func TestDeleteGroup(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, ordered := range []bool{false, true} {
		sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{Ordered: ordered})
		publishIDs(t, b, "t", "before")
		if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
			t.Fatal(err)
		}
		expectEnd(t, sub, 10*time.Second)
		if err := sub.Err(); err != nil {
			t.Errorf("Err after DeleteGroup = %v, want nil", err)
		}
		st, err := b.js.Stream(ctx, b.names.stream("t"))
		if err != nil {
			t.Fatal(err)
		}
		names := st.ConsumerNames(ctx)
		for n := range names.Name() {
			t.Errorf("consumer %s left behind", n)
		}
		if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
			t.Errorf("deleting a missing group: %v", err)
		}
		// A new group of that name starts afresh, at the latest event.
		sub = mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{Ordered: ordered})
		publishIDs(t, b, "t", "after")
		if d := recv(t, sub, 10*time.Second); d.Event().ID() != "after" {
			t.Errorf("recreated group got %s first, want after", d.Event().ID())
		} else {
			d.Ack()
		}
		sub.Close()
		if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.DeleteGroup(ctx, "never-was", "g"); err != nil {
		t.Errorf("DeleteGroup on a missing topic: %v", err)
	}
}

// TestDeletedByAnotherProcess: subscriptions notice a topic or group
// deleted through another connection.
func TestDeletedByAnotherProcess(t *testing.T) {
	cfg := testConfig(t)
	a, other := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	if err := a.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	group := mustSubscribe(t, a, "t", "g", bus.SubscribeOptions{})
	ordered := mustSubscribe(t, a, "t", "o", bus.SubscribeOptions{Ordered: true})
	if err := other.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, group, 15*time.Second)
	if err := group.Err(); err != nil {
		t.Errorf("Err after another process deleted the group = %v, want nil", err)
	}
	if err := other.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, ordered, 15*time.Second)
	if err := ordered.Err(); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Err after another process deleted the topic = %v, want ErrTopicNotFound", err)
	}
	if err := a.Publish(ctx, "t", testEvent("x", "")); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Publish to a topic another process deleted: %v, want ErrTopicNotFound", err)
	}
}

// TestGroupModeIsFixed: a group created unordered refuses ordered members,
// and the other way round, even with no member live.
func TestGroupModeIsFixed(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, b, "t", "u", bus.SubscribeOptions{}).Close()
	if _, err := b.Subscribe(ctx, "t", "u", bus.SubscribeOptions{Ordered: true}); !errors.Is(err, bus.ErrGroupMismatch) {
		t.Errorf("ordered member of an unordered group: %v, want ErrGroupMismatch", err)
	}
	mustSubscribe(t, b, "t", "o", bus.SubscribeOptions{Ordered: true}).Close()
	if _, err := b.Subscribe(ctx, "t", "o", bus.SubscribeOptions{}); !errors.Is(err, bus.ErrGroupMismatch) {
		t.Errorf("unordered member of an ordered group: %v, want ErrGroupMismatch", err)
	}
}

// TestPartitionsComeFromTheStream: a bus configured with other partitions
// than the topic was created with uses the topic's.
func TestPartitionsComeFromTheStream(t *testing.T) {
	cfg := testConfig(t)
	cfg.Partitions = 3
	a := open(t, cfg)
	cfg.Partitions = 20
	other := open(t, cfg)
	ctx := context.Background()
	if err := a.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if err := other.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, other, "t", "g", bus.SubscribeOptions{Ordered: true})
	var evs []*event.Event
	for i := 0; i < 30; i++ {
		evs = append(evs, testEvent(fmt.Sprintf("e%02d", i), "k"+strconv.Itoa(i%5)))
	}
	if err := other.Publish(ctx, "t", evs...); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for i := 0; i < 30; i++ {
		d := recv(t, sub, 10*time.Second)
		key := bus.PartitionKey(d.Event())
		n, _ := strconv.Atoi(strings.TrimPrefix(d.Event().ID(), "e"))
		if n%5 != int(key[1]-'0') || n < next[key] {
			t.Errorf("key %s: got %s after %d", key, d.Event().ID(), next[key])
		}
		next[key] = n + 5
		d.Ack()
	}
	s, err := other.js.Stream(ctx, other.names.stream("t"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.CachedInfo().Config.Subjects); got != 3 {
		t.Errorf("stream has %d subjects, want the creator's 3", got)
	}
	if n := len(sub.(*member).lanes); n != 3 {
		t.Errorf("ordered member pulls %d partitions, want 3", n)
	}
}

// TestMaxInFlight: a member never holds more than MaxInFlight unsettled
// deliveries, and gets more as it settles them.
func TestMaxInFlight(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, ordered := range []bool{false, true} {
		group := "g" + strconv.FormatBool(ordered)
		sub := mustSubscribe(t, b, "t", group, bus.SubscribeOptions{MaxInFlight: 3, Ordered: ordered})
		var evs []*event.Event
		for i := 0; i < 10; i++ {
			evs = append(evs, testEvent(fmt.Sprintf("%s-%d", group, i), "k"+strconv.Itoa(i)))
		}
		if err := b.Publish(ctx, "t", evs...); err != nil {
			t.Fatal(err)
		}
		var held []bus.Delivery
		for i := 0; i < 3; i++ {
			held = append(held, recv(t, sub, 10*time.Second))
		}
		expectNone(t, sub, 500*time.Millisecond)
		held[0].Ack()
		held[1].Nack()
		for i := 0; i < 2; i++ {
			recv(t, sub, 10*time.Second) // held unsettled: the member is full again
		}
		expectNone(t, sub, 300*time.Millisecond)
		sub.Close()
	}
}

// TestOrderedWithFewSlots: an ordered member with fewer in-flight slots than
// partitions polls them in turns and still delivers every key in order.
func TestOrderedWithFewSlots(t *testing.T) {
	cfg := testConfig(t)
	cfg.Partitions = 12
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{MaxInFlight: 2, Ordered: true})
	const keys, perKey = 8, 10
	var evs []*event.Event
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			e := testEvent(fmt.Sprintf("k%d-%02d", k, i), "k"+strconv.Itoa(k))
			evs = append(evs, e)
		}
	}
	if err := b.Publish(ctx, "t", evs...); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	start := time.Now()
	for n := 0; n < keys*perKey; {
		d := recv(t, sub, 10*time.Second)
		key := bus.PartitionKey(d.Event())
		seq, _ := strconv.Atoi(d.Event().ID()[len(key)+1:])
		if seq != next[key] {
			t.Errorf("key %s: got %d, want %d", key, seq, next[key])
		}
		if d.Attempt() == 1 && seq%3 == 1 {
			d.Nack() // comes again before the key's next event
			continue
		}
		next[key] = seq + 1
		d.Ack()
		n++
	}
	t.Logf("%d events over %d keys in %v with 2 slots for 12 partitions", keys*perKey, keys, time.Since(start))
}

// TestMemberDeadline: a member whose AckDeadline differs from the group's
// (the consumer's AckWait) gets its own, and ExtendDeadline can shorten a
// deadline as well as lengthen it.
func TestMemberDeadline(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{AckDeadline: time.Minute}).Close()
	const dl = 2 * time.Second
	sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{AckDeadline: dl})
	publishIDs(t, b, "t", "a")
	start := time.Now()
	d1 := recv(t, sub, 10*time.Second)
	if left := time.Until(d1.Deadline()); left > dl || left < dl/2 {
		t.Errorf("Deadline is %v away, want about %v", left, dl)
	}
	d2 := recv(t, sub, 10*time.Second) // after 2s, not the group's minute
	if d2.Event().ID() != "a" || d2.Attempt() != 2 {
		t.Errorf("got %s attempt %d, want a again", d2.Event().ID(), d2.Attempt())
	}
	if time.Now().Before(d1.Deadline()) || time.Since(start) < dl {
		t.Errorf("redelivered after %v, before the deadline", time.Since(start))
	}
	start = time.Now()
	if err := d2.(bus.DeadlineExtender).ExtendDeadline(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	d3 := recv(t, sub, 10*time.Second)
	if took := time.Since(start); took > dl*3/4 {
		t.Errorf("redelivered %v after shortening the deadline to 100ms", took)
	}
	if err := d2.(bus.DeadlineExtender).ExtendDeadline(time.Second); err == nil {
		t.Errorf("ExtendDeadline of an expired delivery succeeded")
	}
	d3.Ack()
	expectNone(t, sub, 500*time.Millisecond)
}

// TestWireFormat reads a published event back from the stream as any NATS
// client sees it: binary mode, ce- headers, content-type, data as payload.
func TestWireFormat(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "wire.topic_1"); err != nil {
		t.Fatal(err)
	}
	e := testEvent("wire 1", "order-7")
	e.SetSubject("Ünïcode subject")
	if err := b.Publish(ctx, "wire.topic_1", e); err != nil {
		t.Fatal(err)
	}
	s, err := b.js.Stream(ctx, b.names.stream("wire.topic_1"))
	if err != nil {
		t.Fatal(err)
	}
	if name := s.CachedInfo().Config.Name; name != b.cfg.StreamPrefix+"wire_2Etopic__1" {
		t.Errorf("stream name %q", name)
	}
	raw, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := raw.Header
	for k, want := range map[string]string{
		"ce-specversion": "1.0", "ce-id": "wire%201", "ce-source": "/nats-test", "ce-type": "dev.eddy.nats.test.v1",
		"ce-subject": "%C3%9Cn%C3%AFcode%20subject", "ce-partitionkey": "order-7",
		"ce-datacontenttype": "text/plain", "content-type": "text/plain",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if string(raw.Data) != "data of wire 1" {
		t.Errorf("payload %q", raw.Data)
	}
	if !strings.HasPrefix(raw.Subject, b.cfg.SubjectPrefix+".wire_2Etopic__1.") {
		t.Errorf("subject %q", raw.Subject)
	}
	httpH := http.Header{}
	for k, vs := range h {
		if strings.HasPrefix(k, "ce-") && k != "ce-datacontenttype" || k == "content-type" {
			httpH[k] = vs
		}
	}
	for _, v := range conformance.ValidateBinaryHeaders(httpH, raw.Data) {
		if v.Severity == conformance.SeverityError {
			t.Errorf("stored message: %v", v)
		}
	}
}

// TestEventTooLarge: the limit is the server's max_payload less the bus's
// reserve, counted on the encoded message.
func TestEventTooLarge(t *testing.T) {
	b := open(t, testConfig(t))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	max := b.Features().MaxEventBytes
	if max <= 0 || max != int(b.nc.MaxPayload())-controlReserve {
		t.Fatalf("MaxEventBytes %d", max)
	}
	e := testEvent("big", "")
	h, _, size, _ := encodeEvent(e)
	_ = h
	overhead := size - len(e.Data())
	if err := e.SetData("application/octet-stream", make([]byte, max-overhead-50)); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", e); err != nil {
		t.Errorf("Publish just under the limit: %v", err)
	}
	if err := e.SetData("application/octet-stream", make([]byte, max)); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "t", testEvent("ok", ""), e); !errors.Is(err, bus.ErrEventTooLarge) {
		t.Errorf("Publish over the limit: %v, want ErrEventTooLarge", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, Config{URL: "nats://127.0.0.1:1", Token: "s3cret-token", ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("New against a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-token") {
		t.Errorf("error reveals the token: %v", err)
	}
}

// TestCloseStopsGoroutines: after Close, the members' goroutines and the
// connection's are gone.
func TestCloseStopsGoroutines(t *testing.T) {
	cfg := testConfig(t)
	needPeer(t)
	before := runtime.NumGoroutine()
	ctx := context.Background()
	b, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b"} {
		if _, err := b.Subscribe(ctx, "t", g, bus.SubscribeOptions{Ordered: g == "b"}); err != nil {
			t.Fatal(err)
		}
	}
	publishIDs(t, b, "t", "x")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", 10*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// TestOrderedAcrossProcesses: two buses (two connections, as two processes
// would have) share an ordered group; the server hands each partition's
// events out one at a time, so every key stays in order across them.
func TestOrderedAcrossProcesses(t *testing.T) {
	cfg := testConfig(t)
	cfg.Partitions = 4
	a, other := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	if err := a.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	subs := []bus.Subscription{
		mustSubscribe(t, a, "t", "g", bus.SubscribeOptions{Ordered: true, MaxInFlight: 8}),
		mustSubscribe(t, other, "t", "g", bus.SubscribeOptions{Ordered: true, MaxInFlight: 8}),
	}
	const keys, perKey = 6, 25
	var (
		mu     sync.Mutex
		next   = map[string]int{}
		got    = map[int]int{} // deliveries per subscription
		done   = 0
		finish = make(chan struct{})
		wg     sync.WaitGroup
	)
	for i, sub := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var d bus.Delivery
				select {
				case d = <-sub.Deliveries():
				case <-finish:
					return
				}
				key := bus.PartitionKey(d.Event())
				seq, _ := strconv.Atoi(d.Event().ID()[len(key)+1:])
				nack := d.Attempt() == 1 && seq%4 == 3
				mu.Lock()
				if seq != next[key] {
					t.Errorf("key %s: got %d, want %d", key, seq, next[key])
				}
				got[i]++
				if !nack {
					next[key] = seq + 1 // before the Ack releases the partition
					done++
					if done == keys*perKey {
						close(finish)
					}
				}
				mu.Unlock()
				if nack {
					d.Nack()
				} else {
					d.Ack()
				}
			}
		}()
	}
	var evs []*event.Event
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			evs = append(evs, testEvent(fmt.Sprintf("k%d-%d", k, i), "k"+strconv.Itoa(k)))
		}
	}
	for len(evs) > 0 {
		n := min(len(evs), 16)
		if err := a.Publish(ctx, "t", evs[:n]...); err != nil {
			t.Fatal(err)
		}
		evs = evs[n:]
	}
	select {
	case <-finish:
	case <-time.After(60 * time.Second):
		mu.Lock()
		t.Fatalf("only %d of %d events delivered", done, keys*perKey)
	}
	wg.Wait()
	t.Logf("deliveries per process: %v", got)
}
