package conformance

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
)

// BenchmarkReason is the cost the ingress pays per accepted event.
func BenchmarkReason(b *testing.B) {
	ev := event.New()
	ev.SetID("a-1234")
	ev.SetSource("/bench")
	ev.SetType("dev.eddy.bench")
	ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if err := ev.SetData("application/json", []byte(`{"hello":"world","n":12345}`)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := Reason(&ev); err != nil {
			b.Fatal(err)
		}
	}
}
