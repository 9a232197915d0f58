package duck

import (
	"strings"
	"testing"
)

func TestParseDispatchOptions(t *testing.T) {
	o, errs := ParseDispatchOptions(map[string]string{DeliveryOrderAnnotation: "ordered", MaxInFlightAnnotation: "16"})
	if len(errs) != 0 || !o.Ordered || o.MaxInFlight != 16 {
		t.Fatalf("got %+v %v", o, errs)
	}
	if o, errs := ParseDispatchOptions(nil); len(errs) != 0 || o != (DispatchOptions{}) {
		t.Fatalf("no annotations: %+v %v", o, errs)
	}
	_, errs = ParseDispatchOptions(map[string]string{DeliveryOrderAnnotation: "sorted", MaxInFlightAnnotation: "0"})
	got := errs.ToAggregate().Error()
	for _, want := range []string{
		`metadata.annotations[kafka.eventing.knative.dev/delivery.order]: Unsupported value: "sorted"`,
		`metadata.annotations[eventing.eddy.dev/max-in-flight]: Invalid value: "0"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors %q lack %q", got, want)
		}
	}
}
