package sources_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
)

// FuzzAdmitSourceKinds feeds arbitrary documents of the source and feed kinds through decoding
// and admission: nothing may panic, an admitted object must survive the store's unstructured
// form, and admitting it again must change nothing.
func FuzzAdmitSourceKinds(f *testing.F) {
	for _, seed := range []string{
		ghBase, apiBase, pingBase, kafkaBase, pubsubBase, feedBase,
		"apiVersion: sources.knative.dev/v1beta2\nkind: PingSource\nmetadata: {name: p}\nspec: {schedule: 'CRON_TZ=Europe/Paris 0 9 * * 1-5', contentType: application/json, data: '{\"a\":1}', sink: {uri: 'http://x'}}\n",
		"apiVersion: sources.knative.dev/v1\nkind: PingSource\nmetadata: {name: p}\nspec: {schedule: 'TZ=UTC', timezone: Asia/Tokyo, dataBase64: ZGF0YQ==, sink: {uri: 'http://x'}}\n",
		"apiVersion: sources.knative.dev/v1\nkind: KafkaSource\nmetadata: {name: k, uid: u}\nspec: {bootstrapServers: ['a:1,b:2'], topics: [t], net: {sasl: {enable: true, user: {secretKeyRef: {name: s, key: u}}, password: {secretKeyRef: {name: s, key: p}}}}, sink: {uri: 'http://x'}}\n",
		`{"apiVersion":"events.cloud.google.com/v1","kind":"CloudPubSubSource","metadata":{"name":"c"},"spec":{"topic":"topic","secret":{},"ackDeadline":"1m","sink":{"uri":"http://x"}}}`,
		`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"EventSource","metadata":{"name":"e"},"spec":{"type":"github","parameters":{"b":[1,2.5,null],"a":"x"}}}`,
		`{"apiVersion":"feeds.knative.dev/v1alpha1","kind":"ClusterEventType","metadata":{"name":"t"},"spec":{"eventSource":"s","eventSchema":true}}`,
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

// FuzzFeedToV1 converts arbitrary admitted feeds: nothing may panic, and a feed that converts
// gives a v1 source the registry admits.
func FuzzFeedToV1(f *testing.F) {
	for _, seed := range []string{
		feedBase,
		"apiVersion: feeds.knative.dev/v1alpha1\nkind: Feed\nmetadata: {name: f, namespace: default}\nspec: {trigger: {eventType: receive, service: gcppubsub, resource: projects/p-123456/topics/topic-1, parameters: {topic: topic-1}}, action: {channelName: c-channel.default.svc.cluster.local}}\n",
		"apiVersion: feeds.knative.dev/v1alpha1\nkind: Feed\nmetadata: {name: f, namespace: default}\nspec: {trigger: {eventType: dev.knative.k8s.event, service: k8sevents, parameters: {namespace: other}}, action: {dnsName: d.example.com}}\nstatus: {feedContext: {namespaces: [a]}}\n",
		"apiVersion: feeds.knative.dev/v1alpha1\nkind: Feed\nmetadata: {name: f}\nspec: {trigger: {clusterEventType: pullrequest, service: github.com, resource: o, parameters: {secretName: s}}, action: {routeName: r}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, _ := reg.DecodeAll(data)
		for _, o := range objs {
			feed, ok := o.(*feedsv1alpha1.Feed)
			if !ok {
				continue
			}
			admitted, _, err := reg.Admit(feed)
			if err != nil {
				continue
			}
			v1, err := sources.FeedToV1(admitted.(*feedsv1alpha1.Feed))
			if err != nil {
				continue
			}
			if _, _, err := reg.Admit(v1); err != nil {
				t.Fatalf("the %s converted from a feed is not admitted: %v", api.GVK(v1).Kind, err)
			}
			if err := sources.SetFeedStatus(admitted.(*feedsv1alpha1.Feed), v1); err != nil {
				t.Fatalf("SetFeedStatus: %v", err)
			}
		}
	})
}

// FuzzParseSchedule parses arbitrary schedules and zones: no panic, and a schedule that parses
// has a next firing time that is not before the start.
func FuzzParseSchedule(f *testing.F) {
	for _, seed := range [][2]string{
		{"* * * * *", ""}, {"CRON_TZ=Europe/Paris 0 9 * * 1-5", ""}, {"TZ=UTC", ""}, {"TZ= * * * * *", ""},
		{"*/0 * * * *", ""}, {"@hourly", "Asia/Tokyo"}, {"@every 1s", ""}, {"0 0 31 2 *", "UTC"}, {"5-1 * * * *", "Local"},
	} {
		f.Add(seed[0], seed[1])
	}
	start := time.Date(2024, 2, 28, 23, 59, 59, 0, time.UTC)
	f.Fuzz(func(t *testing.T, schedule, timezone string) {
		s, err := sources.ParseSchedule(schedule, timezone)
		if err != nil {
			return
		}
		if next := s.Next(start); !next.IsZero() && next.Before(start) {
			t.Fatalf("%q in %q: next %v before %v", schedule, timezone, next, start)
		}
	})
}
