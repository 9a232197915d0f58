package conformance_test

import (
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/conformance"
)

func ExampleReason() {
	ev := event.New()
	ev.SetID("A-1")
	ev.SetType("com.example.created")
	ev.SetDataSchema("schema.json")
	if err := conformance.Reason(&ev); err != nil {
		fmt.Println(err)
	}
	// Output:
	// invalid CloudEvent: attribute "dataschema": "schema.json" is a relative reference; the URI type requires an absolute URI with a scheme (RFC 3986 §4.3), e.g. "https://example.com/schema" (CloudEvents 1.0 §Type System); attribute "source": required but missing; every CloudEvent MUST have id, source, specversion and type (CloudEvents 1.0 §REQUIRED Attributes)
}

func ExampleValidateStructured() {
	body := []byte(`{"specversion":"1.0","id":"A-1","source":"/orders","type":"com.example.created",
		"Region":"eu","time":"2018-04-05 17:31:00Z","data":{"n":1},"data_base64":"AA=="}`)
	for _, v := range conformance.ValidateStructured(body) {
		fmt.Printf("%s %s %s\n", v.Severity, v.Rule, v.Attribute)
	}
	// Output:
	// error name-chars Region
	// error timestamp time
	// error exclusive data_base64
}

func ExampleValidateBinaryHeaders() {
	h := http.Header{}
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", "A-1")
	h.Set("ce-source", "/orders")
	h.Set("ce-type", "com.example.created")
	h.Set("ce-subject", "caf%C3%A9")          // percent-encoded UTF-8: fine
	h.Set("ce-comment", "two words")          // raw space: accepted from legacy senders
	h.Set("Content-Type", "application/json") // the datacontenttype
	for _, v := range conformance.ValidateBinaryHeaders(h, []byte(`{"n":1}`)) {
		fmt.Printf("%s %s %s\n", v.Severity, v.Rule, v.Attribute)
	}
	// Output:
	// warning header-encoding comment
}
