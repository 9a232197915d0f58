package dispatcher

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
)

// TestWriteBinaryMatchesSDK checks the direct binary encoder against the
// SDK's cehttp.WriteRequest, header by header and byte by byte.
func TestWriteBinaryMatchesSDK(t *testing.T) {
	full := event.New()
	full.SetID("id-1")
	full.SetSource("https://example.com/src?q=1")
	full.SetType("t")
	full.SetSubject("subj")
	full.SetTime(time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600)))
	full.SetDataSchema("https://example.com/schema")
	full.SetData("text/plain", []byte("hello"))
	full.SetExtension("str", "v")
	full.SetExtension("num", 42)
	full.SetExtension("flag", true)
	full.SetExtension("when", types.Timestamp{Time: time.Unix(1700000000, 0)})
	full.SetExtension("link", types.URI{URL: *mustURL("https://example.com/x")})
	full.SetExtension("bin", []byte{1, 2, 3})
	full.SetExtension("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")

	minimal := event.New()
	minimal.SetID("id-2")
	minimal.SetSource("/s")
	minimal.SetType("t")

	b64 := event.New()
	b64.SetID("id-3")
	b64.SetSource("/s")
	b64.SetType("t")
	b64.SetData("application/octet-stream", []byte{0, 1, 2, 255})
	b64.DataBase64 = true

	v03 := event.New(event.CloudEventsVersionV03)
	v03.SetID("id-4")
	v03.SetSource("/s")
	v03.SetType("t")
	v03.SetData(event.ApplicationJSON, map[string]int{"a": 1})
	v03.SetExtension("ext", "x")

	for name, ev := range map[string]*event.Event{"full": &full, "minimal": &minimal, "base64": &b64, "v0.3": &v03} {
		t.Run(name, func(t *testing.T) {
			if err := ev.Validate(); err != nil {
				t.Fatal(err)
			}
			mine := &http.Request{Header: http.Header{}}
			sdk := &http.Request{Header: http.Header{}}
			if err := writeBinary(context.Background(), mine, ev); err != nil {
				t.Fatal(err)
			}
			if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(ev), sdk); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(mine.Header, sdk.Header) {
				t.Errorf("headers differ:\n mine %v\n sdk  %v", mine.Header, sdk.Header)
			}
			if body(t, mine) != body(t, sdk) || mine.ContentLength != sdk.ContentLength {
				t.Errorf("bodies differ: %q (%d) vs %q (%d)", body(t, mine), mine.ContentLength, body(t, sdk), sdk.ContentLength)
			}
		})
	}
}

func body(t *testing.T, r *http.Request) string {
	t.Helper()
	if r.Body == nil || r.Body == http.NoBody {
		return ""
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}
