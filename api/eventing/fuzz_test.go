package eventing_test

import (
	"reflect"
	"testing"

	"github.com/eddyplatform/eddy/api"
)

// FuzzAdmitEventingKinds feeds arbitrary documents of the eventing, messaging, channels and
// flows kinds through decoding and admission: nothing may panic, an admitted object must
// survive the store's unstructured form, and admitting it again must change nothing (defaulting
// is idempotent and validation accepts what it admitted).
func FuzzAdmitEventingKinds(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b, namespace: ns}\nspec: {delivery: {retry: 3, backoffDelay: PT1S, deadLetterSink: {uri: 'http://d'}}}\n",
		"apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: t}\nspec:\n  broker: default\n  filters: [{any: [{exact: {type: a}}, {cesql: \"source LIKE '%x%'\"}]}]\n  subscriber: {ref: {apiVersion: v1, kind: Service, name: s}, uri: /p}\n",
		`{"apiVersion":"eventing.knative.dev/v1beta2","kind":"EventType","metadata":{"name":"e"},"spec":{"type":"t","reference":{"apiVersion":"v1","kind":"Service","name":"s"}}}`,
		"apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: c, annotations: {messaging.knative.dev/bus: Bus/b}}\nspec: {subscribers: [{uid: u, subscriberUri: 'http://s'}]}\n",
		"apiVersion: messaging.knative.dev/v1\nkind: InMemoryChannel\nmetadata: {name: c}\n",
		"apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: s}\nspec: {channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: c}, subscriber: {uri: 'http://x'}, delivery: {timeout: PT5S}}\n",
		"apiVersion: channels.knative.dev/v1alpha1\nkind: Subscription\nmetadata: {name: s}\nspec: {channel: c, subscriber: dumper, replyTo: 'http://r'}\n",
		"apiVersion: channels.knative.dev/v1alpha1\nkind: ClusterBus\nmetadata: {name: kafka}\nspec: {config: {brokers: 'k:9092'}, secretRef: {name: s, namespace: n}}\n",
		"apiVersion: flows.knative.dev/v1\nkind: Parallel\nmetadata: {name: p}\nspec: {branches: [{filter: {uri: 'http://f'}, subscriber: {uri: 'http://s'}}]}\n",
		"apiVersion: flows.knative.dev/v1\nkind: Sequence\nmetadata: {name: s}\nspec: {steps: [{uri: 'http://a', delivery: {retry: 1}}]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := reg.DecodeAll(data)
		for _, o := range objs {
			admitted, k, err := reg.Admit(o)
			if err != nil {
				continue
			}
			u, err := api.ToUnstructured(admitted)
			if err != nil {
				t.Fatalf("admitted object does not encode: %v", err)
			}
			back := k.NewStorage()
			if err := api.FromUnstructured(u, back); err != nil {
				t.Fatalf("admitted object does not decode from its stored form: %v", err)
			}
			again, _, err := reg.Admit(back)
			if err != nil {
				t.Fatalf("an admitted %s is rejected when admitted again: %v", k.Kind, err)
			}
			u2, _ := api.ToUnstructured(again)
			if !reflect.DeepEqual(u.Object, u2.Object) {
				t.Fatalf("admitting a %s twice changed it:\n%v\n%v", k.Kind, u.Object, u2.Object)
			}
		}
	})
}
