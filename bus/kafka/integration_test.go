package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/conformance"
)

func testEvent(id, key string) *event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/kafka/test")
	e.SetType("dev.eddy.test")
	e.SetSubject("subject")
	e.SetTime(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC))
	e.SetDataSchema("https://example.com/schema")
	e.SetExtension("count", 42)
	e.SetExtension("flag", true)
	if key != "" {
		e.SetExtension(bus.PartitionKeyExtension, key)
	}
	if err := e.SetData(event.ApplicationJSON, map[string]string{"hello": "wörld"}); err != nil {
		panic(err)
	}
	return &e
}

func mustSubscribe(t *testing.T, b bus.Bus, topic, group string, opts bus.SubscribeOptions) bus.Subscription {
	t.Helper()
	sub, err := b.Subscribe(context.Background(), topic, group, opts)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q): %v", topic, group, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

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

func expectEnd(t *testing.T, sub bus.Subscription, timeout time.Duration) {
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

// TestRecordEncoding reads the records the bus writes with a plain Kafka
// consumer: they must be valid CloudEvents in the Kafka binding's binary
// mode, keyed by the partition key, and decode to the published event.
func TestRecordEncoding(t *testing.T) {
	c := cluster(t)
	cfg := testConfig(t, c, 1)
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "enc"); err != nil {
		t.Fatal(err)
	}
	sent := []*event.Event{testEvent("with-key", "order-17"), testEvent("without-key", "")}
	noData := event.New()
	noData.SetID("no-data")
	noData.SetSource("/s")
	noData.SetType("t")
	sent = append(sent, &noData)
	if err := b.Publish(ctx, "enc", sent...); err != nil {
		t.Fatal(err)
	}

	consumer, err := sarama.NewConsumer(cfg.Brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(cfg.TopicPrefix+"enc", 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, want := range sent {
		var msg *sarama.ConsumerMessage
		select {
		case msg = <-pc.Messages():
		case <-time.After(30 * time.Second):
			t.Fatal("no record within 30s")
		}
		headers := make([]conformance.KafkaHeader, len(msg.Headers))
		for i, h := range msg.Headers {
			headers[i] = conformance.KafkaHeader{Key: string(h.Key), Value: h.Value}
		}
		for _, v := range conformance.ValidateKafka(headers, msg.Key, msg.Value) {
			if v.Severity == conformance.SeverityError {
				t.Errorf("record of %s: %v", want.ID(), v)
			} else {
				t.Logf("record of %s: warning: %v", want.ID(), v)
			}
		}
		if k := bus.PartitionKey(want); string(msg.Key) != k {
			t.Errorf("record of %s has key %q, want %q", want.ID(), msg.Key, k)
		}
		for _, h := range msg.Headers {
			if string(h.Key) == "content-type" && want.DataContentType() == "" {
				t.Errorf("record of %s has a content-type though the event has no datacontenttype", want.ID())
			}
		}
		got, err := decodeRecord(msg.Headers, msg.Value)
		if err != nil {
			t.Fatalf("decoding the record of %s: %v", want.ID(), err)
		}
		if !sameEvent(got, want) {
			t.Errorf("decoded event differs:\n got %v\nwant %v", got, want)
		}
	}
}

// TestDeleteGroup: DeleteGroup ends the group's subscriptions without an
// error and forgets the group, which starts afresh.
func TestDeleteGroup(t *testing.T) {
	c := cluster(t)
	b := open(t, testConfig(t, c, 2))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{})
	if err := b.Publish(ctx, "t", testEvent("before", "")); err != nil {
		t.Fatal(err)
	}
	recv(t, sub).Ack()
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	expectEnd(t, sub, 30*time.Second)
	if err := sub.Err(); err != nil {
		t.Errorf("Err after DeleteGroup = %v, want nil", err)
	}
	if err := b.DeleteGroup(ctx, "t", "g"); err != nil {
		t.Errorf("deleting a missing group: %v", err)
	}
	if err := b.Publish(ctx, "t", testEvent("between", "")); err != nil {
		t.Fatal(err)
	}
	sub = mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{}) // Latest again
	if err := b.Publish(ctx, "t", testEvent("after", "")); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, sub); d.Event().ID() != "after" {
		t.Errorf("recreated group got %s, want after", d.Event().ID())
	}
}

// TestGroupMismatchAcrossBuses: a member of another process (another Bus)
// with a different Ordered option is refused, from what the coordinator
// says of the group.
func TestGroupMismatchAcrossBuses(t *testing.T) {
	c := cluster(t)
	cfg := testConfig(t, c, 2)
	b1, b2 := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	if err := b1.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b1, "t", "g", bus.SubscribeOptions{Ordered: true})
	if err := b1.Publish(ctx, "t", testEvent("x", "k")); err != nil {
		t.Fatal(err)
	}
	recv(t, sub).Ack() // the member has joined
	_, err := b2.Subscribe(ctx, "t", "g", bus.SubscribeOptions{})
	if !errors.Is(err, bus.ErrGroupMismatch) {
		t.Fatalf("unordered Subscribe to an ordered group in another bus: %v, want ErrGroupMismatch", err)
	}
	sub2 := mustSubscribe(t, b2, "t", "g", bus.SubscribeOptions{Ordered: true})
	_ = sub2
}

// TestTopicDeletedElsewhere: a subscription ends with ErrTopicNotFound
// when another process deletes its topic.
func TestTopicDeletedElsewhere(t *testing.T) {
	c := cluster(t)
	cfg := testConfig(t, c, 2)
	b1, b2 := open(t, cfg), open(t, cfg)
	ctx := context.Background()
	if err := b1.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b1, "t", "g", bus.SubscribeOptions{})
	if err := b1.Publish(ctx, "t", testEvent("x", "")); err != nil {
		t.Fatal(err)
	}
	recv(t, sub).Ack()
	if err := b2.DeleteTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	expectEnd(t, sub, 30*time.Second)
	if err := sub.Err(); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Err = %v, want ErrTopicNotFound", err)
	}
	if err := b1.Publish(ctx, "t", testEvent("y", "")); !errors.Is(err, bus.ErrTopicNotFound) {
		t.Errorf("Publish to a topic deleted elsewhere: %v, want ErrTopicNotFound", err)
	}
}

// TestSASL authenticates with each mechanism against a cluster that
// requires it, and checks a wrong password is refused without appearing
// in the error.
func TestSASL(t *testing.T) {
	users := map[string][2]string{
		SASLPlain:       {"plain-user", "plain-secret-1"},
		SASLScramSHA256: {"scram256-user", "scram-secret-256"},
		SASLScramSHA512: {"scram512-user", "scram-secret-512"},
	}
	opts := []kfake.Opt{kfake.EnableSASL()}
	for mech, up := range users {
		opts = append(opts, kfake.Superuser(mech, up[0], up[1]))
	}
	c, err := newCluster(opts...)
	if err != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster: %v", err)
	}
	t.Cleanup(c.Close)
	for mech, up := range users {
		t.Run(mech, func(t *testing.T) {
			cfg, err := ParseConfig(map[string]string{
				"brokers":        strings.Join(c.ListenAddrs(), ","),
				"sasl.mechanism": mech,
			}, map[string][]byte{"username": []byte(up[0]), "password": []byte(up[1])})
			if err != nil {
				t.Fatal(err)
			}
			test := testConfig(t, c, 1, func(c *Config) { c.SASL = cfg.SASL })
			b := open(t, test)
			ctx := context.Background()
			if err := b.EnsureTopic(ctx, "t"); err != nil {
				t.Fatal(err)
			}
			sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{})
			if err := b.Publish(ctx, "t", testEvent("x", "")); err != nil {
				t.Fatal(err)
			}
			if d := recv(t, sub); d.Event().ID() != "x" {
				t.Errorf("got %s", d.Event().ID())
			}

			test.SASL.Password = "wrong-" + up[1]
			test.DialTimeout = 5 * time.Second
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			if b, err := New(ctx, test); err == nil {
				b.Close()
				t.Errorf("New with a wrong password succeeded")
			} else if strings.Contains(err.Error(), test.SASL.Password) || strings.Contains(err.Error(), up[1]) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestTLS connects over TLS, trusting the cluster's CA given in the
// secret.
func TestTLS(t *testing.T) {
	caPEM, serverCert := testCertificates(t)
	c, err := newCluster(kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster: %v", err)
	}
	t.Cleanup(c.Close)
	parsed, err := ParseConfig(map[string]string{"brokers": strings.Join(c.ListenAddrs(), ",")},
		map[string][]byte{"ca.crt": caPEM})
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.TLS.Enable {
		t.Fatal("a CA in the secret did not enable TLS")
	}
	cfg := testConfig(t, c, 1, func(c *Config) { c.TLS = parsed.TLS })
	b := open(t, cfg)
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{})
	if err := b.Publish(ctx, "t", testEvent("x", "")); err != nil {
		t.Fatal(err)
	}
	if d := recv(t, sub); d.Event().ID() != "x" {
		t.Errorf("got %s", d.Event().ID())
	}
}

// testCertificates returns a CA certificate in PEM and a server
// certificate for 127.0.0.1 it signed.
func testCertificates(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "eddy test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kfake"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTopicNameCollision: Kafka treats '.' and '_' in topic names alike,
// so the second of two such names is refused as an invalid name.
func TestTopicNameCollision(t *testing.T) {
	b := open(t, testConfig(t, cluster(t), 1))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "a.b"); err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureTopic(ctx, "a_b"); !errors.Is(err, bus.ErrInvalidName) {
		t.Errorf("EnsureTopic of a colliding name: %v, want ErrInvalidName", err)
	}
}

// TestSessionTimeoutRefused: a subscription the brokers cannot take ends
// with an error that says why, rather than retrying for ever.
func TestSessionTimeoutRefused(t *testing.T) {
	b := open(t, testConfig(t, cluster(t), 1, func(c *Config) { c.SessionTimeout = 10 * time.Minute }))
	ctx := context.Background()
	if err := b.EnsureTopic(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	sub := mustSubscribe(t, b, "t", "g", bus.SubscribeOptions{})
	expectEnd(t, sub, 30*time.Second)
	if err := sub.Err(); err == nil || !strings.Contains(err.Error(), "SessionTimeout") {
		t.Errorf("Err = %v, want the refused session timeout", err)
	}
}
