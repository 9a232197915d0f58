package conformance

import (
	"testing"
	"time"
)

func kafkaHeaders(kv ...string) []KafkaHeader {
	hs := []KafkaHeader{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte("A-1")},
		{Key: "ce_source", Value: []byte("/src")},
		{Key: "ce_type", Value: []byte("com.example.t")},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, KafkaHeader{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func TestValidateKafka(t *testing.T) {
	// A []struct{Key string; Value []byte} is accepted without conversion.
	plain := []struct {
		Key   string
		Value []byte
	}{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	if vs := ValidateKafka(plain, nil, []byte(ev10(""))); len(vs) != 0 {
		t.Errorf("structured: %v", vs)
	}

	cases := []struct {
		name    string
		headers []KafkaHeader
		value   string
		errs    []string
		warns   []string
	}{
		{name: "binary", headers: kafkaHeaders("content-type", "application/json", "ce_time", "2018-04-05T17:31:00Z", "ce_partitionkey", "k"), value: `{"a":1}`},
		{name: "tombstone", headers: kafkaHeaders()},
		{name: "structured", headers: []KafkaHeader{{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}, value: ev10("")},
		{name: "structured, invalid", headers: []KafkaHeader{{Key: "content-type", Value: []byte("application/cloudevents+json")}}, value: `{}`, errs: []string{"required@id", "required@source", "required@specversion", "required@type"}},
		{name: "structured, other format", headers: []KafkaHeader{{Key: "content-type", Value: []byte("application/cloudevents+avro")}}, value: "\x00", warns: []string{"mode@content-type"}},
		{name: "batch", headers: []KafkaHeader{{Key: "content-type", Value: []byte("application/cloudevents-batch+json")}}, value: "[]", errs: []string{"mode@content-type"}},
		{name: "no headers", errs: []string{"required@id", "required@source", "required@specversion", "required@type"}},
		{name: "unknown specversion", headers: []KafkaHeader{{Key: "ce_specversion", Value: []byte("1.1")}}, errs: []string{"specversion@specversion"}},
		{name: "upper-case name", headers: kafkaHeaders("ce_myExt", "x"), errs: []string{"name-chars@myExt"}},
		{name: "upper-case prefix", headers: kafkaHeaders("CE_ext", "x"), errs: []string{"name-chars@ext"}},
		{name: "repeated header", headers: kafkaHeaders("ce_id", "B-2"), errs: []string{"duplicate@id"}},
		{name: "ce_datacontenttype", headers: kafkaHeaders("ce_datacontenttype", "text/plain"), warns: []string{"content-type@datacontenttype"}},
		{name: "Content-Type key", headers: kafkaHeaders("Content-Type", "text/plain"), value: "x", warns: []string{"content-type@Content-Type"}},
		{name: "repeated content-type", headers: kafkaHeaders("content-type", "text/plain", "content-type", "text/html"), errs: []string{"duplicate@content-type"}},
		{name: "value not UTF-8", headers: kafkaHeaders("ce_subject", "\xff"), errs: []string{"header-encoding@subject"}},
		{name: "no percent-decoding", headers: kafkaHeaders("ce_subject", "Euro € and 100%")},
		{name: "bad time", headers: kafkaHeaders("ce_time", "now"), errs: []string{"timestamp@time"}},
		{name: "bad content-type", headers: kafkaHeaders("content-type", "json"), errs: []string{"media-type@datacontenttype"}},
		{name: "JSON value not JSON", headers: kafkaHeaders("content-type", "application/json"), value: "nope", warns: []string{"data-format@data"}},
		{name: "control character", headers: kafkaHeaders("ce_subject", "a\nb"), errs: []string{"string-chars@subject"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var value []byte
			if c.value != "" {
				value = []byte(c.value)
			}
			ruleCase{errs: c.errs, warns: c.warns}.check(t, ValidateKafka(c.headers, []byte("key"), value))
		})
	}
}

func amqpProps(prefix string, kv ...any) map[string]any {
	p := map[string]any{
		prefix + "specversion": "1.0",
		prefix + "id":          "A-1",
		prefix + "source":      "/src",
		prefix + "type":        "com.example.t",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i].(string)] = kv[i+1]
	}
	return p
}

type symbol string // stands in for an AMQP library's symbol type

func TestValidateAMQP(t *testing.T) {
	ts := time.Date(2018, 4, 5, 17, 31, 0, 0, time.UTC)
	cases := []struct {
		name  string
		ct    string
		props map[string]any
		body  string
		errs  []string
		warns []string
	}{
		{name: "binary, underscore", ct: "application/json", props: amqpProps("cloudEvents_", "cloudEvents_time", ts, "cloudEvents_n", int64(5), "cloudEvents_b", true, "cloudEvents_bin", []byte{1}, "x-opt", 1.5), body: `{"a":1}`},
		{name: "binary, colon", props: amqpProps("cloudEvents:", "cloudEvents:time", "2018-04-05T17:31:00Z")},
		{name: "symbol values", props: amqpProps("cloudEvents_", "cloudEvents_s", symbol("x"))},
		{name: "mixed separators", props: amqpProps("cloudEvents_", "cloudEvents:ext", "x"), errs: []string{"prefix@cloudEvents:ext"}},
		{name: "wrong-case prefix", props: amqpProps("cloudEvents_", "cloudevents_ext", "x"), warns: []string{"prefix@cloudevents_ext"}},
		{name: "same attribute twice", props: amqpProps("cloudEvents_", "cloudEvents:id", "B-2"), errs: []string{"duplicate@id", "prefix@cloudEvents:id"}},
		{name: "no properties", errs: []string{"required@id", "required@source", "required@specversion", "required@type"}},
		{name: "unknown specversion", props: map[string]any{"cloudEvents_specversion": 1.0}, errs: []string{"specversion@specversion"}},
		{name: "integer out of range", props: amqpProps("cloudEvents_", "cloudEvents_n", int64(1)<<33), errs: []string{"integer-range@n"}},
		{name: "huge unsigned", props: amqpProps("cloudEvents_", "cloudEvents_n", uint64(1)<<63), errs: []string{"integer-range@n"}},
		{name: "float", props: amqpProps("cloudEvents_", "cloudEvents_f", 1.5), errs: []string{"type@f"}},
		{name: "list", props: amqpProps("cloudEvents_", "cloudEvents_l", []string{"a"}), errs: []string{"type@l"}},
		{name: "null is unset", props: amqpProps("cloudEvents_", "cloudEvents_subject", nil)},
		{name: "id as integer", props: amqpProps("cloudEvents_", "cloudEvents_id", int64(5)), errs: []string{"type@id"}},
		{name: "time as bad string", props: amqpProps("cloudEvents_", "cloudEvents_time", "now"), errs: []string{"timestamp@time"}},
		{name: "datacontenttype property", props: amqpProps("cloudEvents_", "cloudEvents_datacontenttype", "text/plain"), warns: []string{"content-type@datacontenttype"}},
		{name: "bad content-type", ct: "json", props: amqpProps("cloudEvents_"), errs: []string{"media-type@datacontenttype"}},
		{name: "structured", ct: "application/cloudevents+json", body: ev10("")},
		{name: "structured, invalid", ct: "application/cloudevents+json", body: `[]`, errs: []string{"json@"}},
		{name: "structured, other format", ct: "application/cloudevents+xml", body: "<x/>", warns: []string{"mode@content-type"}},
		{name: "batch", ct: "application/cloudevents-batch+json", body: "[]", errs: []string{"mode@content-type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ruleCase{errs: c.errs, warns: c.warns}.check(t, ValidateAMQP(c.ct, c.props, []byte(c.body)))
		})
	}
}
