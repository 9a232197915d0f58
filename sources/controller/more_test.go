package controller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pubsubpb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/IBM/sarama"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/internal/kubetest"
	"github.com/eddyplatform/eddy/platform"
	"github.com/eddyplatform/eddy/platform/platformtest"
	"github.com/twmb/franz-go/pkg/kfake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// An ApiServerSource watches a real kube-apiserver: a ConfigMap created there arrives at the
// sink as a dev.knative.apiserver.ref.add event.
func TestApiServerSourceAgainstKubeAPIServer(t *testing.T) {
	kube := kubetest.Start(t)
	e := &env{platformtest.Start(t, platform.Config{Kubeconfig: kube.Kubeconfig})}
	s := newSink(t)
	e.Apply(t, fmt.Sprintf(`
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata: {name: cms}
spec:
  mode: Reference
  resources: [{apiVersion: v1, kind: ConfigMap}]
  sink: {uri: %q}
`, s.URL))
	src := &sources.ApiServerSource{}
	eventually(t, "the ApiServerSource to be ready", func() bool {
		return e.Client.Get(context.Background(), "default", "cms", src) == nil && src.Status.IsReady()
	})
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "watched", "namespace": "default"}, "data": map[string]any{"k": "v"}}}
	dyn := kube.Dynamic(t)
	deadline := time.Now().Add(30 * time.Second)
	created := false
	for {
		if !created {
			if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default").Create(context.Background(), cm, metav1.CreateOptions{}); err == nil {
				created = true
			}
		}
		found := false
		for _, ev := range s.got() {
			if ev.Type() == "dev.knative.apiserver.ref.add" && ev.Extensions()["name"] == "watched" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no add event for the ConfigMap; the sink got %d events", len(s.got()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A KafkaSource consumes a topic of a kfake cluster: a plain record arrives at the sink as a
// dev.knative.kafka.event.
func TestKafkaSourceAgainstKfake(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	e := start(t)
	s := newSink(t)
	e.Apply(t, fmt.Sprintf(`
apiVersion: sources.knative.dev/v1beta1
kind: KafkaSource
metadata: {name: orders}
spec:
  bootstrapServers: [%q]
  topics: [orders]
  initialOffset: earliest
  sink: {uri: %q}
`, kc.ListenAddrs()[0], s.URL))
	src := &sources.KafkaSource{}
	eventually(t, "the KafkaSource to be ready", func() bool {
		return e.Client.Get(context.Background(), "default", "orders", src) == nil && src.Status.IsReady()
	})
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer(kc.ListenAddrs(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "orders", Value: sarama.StringEncoder(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the record at the sink", func() bool {
		for _, ev := range s.got() {
			if ev.Type() == "dev.knative.kafka.event" && string(ev.Data()) == `{"n":1}` {
				return true
			}
		}
		return false
	})
}

// A CloudPubSubSource pulls from the official Pub/Sub fake: a published message arrives at
// the sink as google.cloud.pubsub.topic.v1.messagePublished.
func TestCloudPubSubSourceAgainstPstest(t *testing.T) {
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/eddy-test/topics/orders"}); err != nil {
		t.Fatal(err)
	}
	e := start(t)
	s := newSink(t)
	e.Apply(t, fmt.Sprintf(`
apiVersion: events.cloud.google.com/v1
kind: CloudPubSubSource
metadata: {name: ps}
spec:
  project: eddy-test
  topic: orders
  sink: {uri: %q}
`, s.URL))
	src := &sources.CloudPubSubSource{}
	eventually(t, "the CloudPubSubSource to be ready", func() bool {
		return e.Client.Get(context.Background(), "default", "ps", src) == nil && src.Status.IsReady()
	})
	srv.Publish("projects/eddy-test/topics/orders", []byte("hello"), map[string]string{"a": "b"})
	eventually(t, "the message at the sink", func() bool {
		for _, ev := range s.got() {
			if ev.Type() == "google.cloud.pubsub.topic.v1.messagePublished" {
				return true
			}
		}
		return false
	})
	// An adapter that stops on its own (its subscription was deleted under it) is started
	// again, and makes its subscription again: the next message arrives.
	if _, err := srv.GServer.DeleteSubscription(context.Background(), &pubsubpb.DeleteSubscriptionRequest{
		Subscription: "projects/eddy-test/subscriptions/eddy-pubsubsource_default_ps"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a message after the subscription was deleted", func() bool {
		srv.Publish("projects/eddy-test/topics/orders", []byte("again"), nil)
		time.Sleep(100 * time.Millisecond)
		return len(s.got()) >= 2
	})
}
