package kafka

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzToEvent: any record maps to a valid event that serializes, without panicking. A record
// that is not in the CloudEvents binding keeps its place (id, subject) and value.
func FuzzToEvent(f *testing.F) {
	files, _ := filepath.Glob("testdata/cloudevents/*/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add("content-type", []byte("application/cloudevents+json"), "", []byte(nil), []byte(nil), b, "string")
		}
	}
	f.Add("ce_specversion", []byte("1.0"), "ce_id", []byte("1"), []byte("k"), []byte("v"), "int")
	f.Add("ce_specversion", []byte("1.0"), "ce_bad-ext", []byte("\x00"), []byte{0, 0, 0, 1}, []byte(nil), "int")
	f.Add("Content-Type", []byte("application/json"), "X-Trace", []byte("abc"), []byte{0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, []byte(`{"a":1}`), "float")
	f.Add("content-type", []byte("application/cloudevents-batch+json"), "", []byte(nil), []byte{0xff}, []byte(`[{}]`), "byte-array")
	f.Fuzz(func(t *testing.T, h1 string, v1 []byte, h2 string, v2, key, value []byte, keyType string) {
		if !validKeyType(keyType) {
			keyType = KeyString
		}
		r := Record{Topic: "t", Partition: 3, Offset: 42, Key: key, Value: value, Timestamp: 1589744702700,
			Headers: []Header{{Key: h1, Value: v1}, {Key: h2, Value: v2}}}
		ev, pass := ToEvent(r, "ns", "n", keyType)
		if err := ev.Validate(); err != nil {
			t.Fatalf("invalid event (passThrough %t): %v", pass, err)
		}
		if !pass {
			if ev.ID() != "partition:3/offset:42" || ev.Subject() != "partition:3#42" || string(ev.Data()) != string(value) {
				t.Fatalf("plain record mapped to %v", ev)
			}
			for name := range ev.Extensions() {
				if name != "key" && name != "partitionkey" && !strings.HasPrefix(name, "kafkaheader") {
					t.Fatalf("extension %q", name)
				}
			}
			if b, err := json.Marshal(ev); err != nil || !json.Valid(b) {
				t.Fatalf("structured form %s: %v", b, err)
			}
		}
	})
}
