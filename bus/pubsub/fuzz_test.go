package pubsub

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	ps "cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	cepubsub "github.com/cloudevents/sdk-go/protocol/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"google.golang.org/protobuf/proto"
)

// FuzzParseConfig: ParseConfig never panics, what it accepts validates, and
// neither its errors nor the printed Config show the secret.
func FuzzParseConfig(f *testing.F) {
	f.Add("project=p\ntopicPrefix=eddy\nackDeadline=30s", []byte(fakeKey))
	f.Add("endpoint=localhost:8085\nproject=p\nlongPoll=false\npollInterval=5ms", []byte(nil))
	f.Add("maxInFlight=12\npublishDelay=0s\napiEndpoint=x:443", []byte("not json s3cr3t"))
	f.Add("unknown=1\ntopicPrefix=goog", []byte(`{"project_id":"p"}`))
	f.Fuzz(func(t *testing.T, lines string, secret []byte) {
		config := map[string]string{}
		for _, line := range strings.Split(lines, "\n") {
			k, v, _ := strings.Cut(line, "=")
			config[k] = v
		}
		var sec map[string][]byte
		if secret != nil {
			sec = map[string][]byte{SecretCredentials: secret}
		}
		cfg, err := ParseConfig(config, sec)
		leak := func(s string) bool { return len(secret) >= 8 && strings.Contains(s, string(secret)) }
		if err != nil {
			if leak(err.Error()) {
				t.Fatalf("error shows the secret: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
		}
		if leak(cfg.String()) || leak(fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg)) {
			t.Fatalf("printed config shows the secret")
		}
	})
}

// FuzzDecodeMessage feeds Pub/Sub messages (protobuf-encoded, seeded with
// the bus's own encodings and sdk-go's) to decodeMessage. It must not
// panic, and what it decodes must survive encoding: encoding the event
// again and decoding that gives the same message (a fixed point).
func FuzzDecodeMessage(f *testing.F) {
	for _, e := range sampleEvents() {
		m, err := encodeEvent(e)
		if err != nil {
			f.Fatal(err)
		}
		seed, _ := proto.Marshal(m)
		f.Add(seed)
		sm := &ps.Message{Attributes: map[string]string{}}
		if err := cepubsub.WritePubSubMessage(context.Background(), binding.ToMessage(e), sm); err == nil {
			seed, _ := proto.Marshal(&pb.PubsubMessage{Data: sm.Data, Attributes: sm.Attributes})
			f.Add(seed)
		}
	}
	seed, _ := proto.Marshal(&pb.PubsubMessage{Data: []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","n":3,"data_base64":"AAE="}`),
		Attributes: map[string]string{attrContentType: "application/cloudevents+json"}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m pb.PubsubMessage
		if proto.Unmarshal(raw, &m) != nil {
			return
		}
		e, err := decodeMessage(m.Data, m.Attributes)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("decoded an invalid event: %v", err)
		}
		m1, err := encodeEvent(e)
		if err != nil {
			return // too large, say: the bus would refuse to publish it
		}
		e2, err := decodeMessage(m1.Data, m1.Attributes)
		if err != nil {
			t.Fatalf("the bus cannot read its own encoding %v: %v", m1.Attributes, err)
		}
		m2, err := encodeEvent(e2)
		if err != nil {
			t.Fatalf("re-encoding: %v", err)
		}
		if !maps.Equal(m1.Attributes, m2.Attributes) || !bytes.Equal(m1.Data, m2.Data) || m1.OrderingKey != m2.OrderingKey {
			t.Fatalf("encoding is not stable:\n%v %q\n%v %q", m1.Attributes, m1.Data, m2.Attributes, m2.Data)
		}
	})
}
