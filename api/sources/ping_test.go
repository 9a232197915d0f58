package sources_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api/sources"
)

func TestKnativeDocsPingSources(t *testing.T) {
	objs := decodeFile(t, "knative-docs-ping-sources.yaml")
	if len(objs) != 2 {
		t.Fatalf("%d objects", len(objs))
	}
	js := mustAdmit(t, objs[0]).(*sources.PingSource)
	if js.Spec.Schedule != "*/2 * * * *" || js.Spec.ContentType != "application/json" {
		t.Errorf("spec %+v", js.Spec)
	}
	bin := mustAdmit(t, objs[1]).(*sources.PingSource)
	if v := bin.GetObjectKind().GroupVersionKind().Version; v != "v1" {
		t.Errorf("v1beta2 stored as %s", v)
	}
	if data, err := bin.Spec.DataBytes(); err != nil || string(data) != "data" {
		t.Errorf("DataBytes = %q, %v", data, err)
	}
	if attrs := bin.CloudEventAttributes(); attrs[0].Type != "dev.knative.sources.ping" || attrs[0].Source != "/apis/v1/namespaces//pingsources/test-ping-source-binary" {
		t.Errorf("ceAttributes %v", attrs)
	}
}

const pingBase = `
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: p, namespace: ns}
spec:
  sink: {uri: "http://example.com/ping"}
`

func TestPingSourceDefaults(t *testing.T) {
	obj, err := admit(t, pingBase)
	if err != nil {
		t.Fatal(err)
	}
	if s := obj.(*sources.PingSource); s.Spec.Schedule != "* * * * *" {
		t.Errorf("schedule %q", s.Spec.Schedule)
	}
}

func TestPingSourceValidation(t *testing.T) {
	cases := map[string]struct {
		spec string
		want []string
	}{
		"six fields":        {"schedule: '0 * * * * *'", []string{`spec.schedule: Invalid value: "0 * * * * *": expected exactly 5 fields`}},
		"every":             {"schedule: '@every 1m'", []string{`spec.schedule: Invalid value: "@every 1m": unsupported descriptor @every`}},
		"bad range":         {"schedule: '61 * * * *'", []string{`spec.schedule: Invalid value: "61 * * * *"`}},
		"bad timezone":      {"timezone: Mars/Olympus_Mons", []string{`spec.timezone: Invalid value: "Mars/Olympus_Mons": unknown time zone`}},
		"bad prefix zone":   {"schedule: 'CRON_TZ=Mars/Base 0 9 * * *'", []string{`spec.schedule: Invalid value: "CRON_TZ=Mars/Base 0 9 * * *": unknown time zone "Mars/Base"`}},
		"zone twice":        {"{schedule: 'CRON_TZ=Europe/Paris 0 9 * * *', timezone: Asia/Tokyo}", []string{"spec.schedule: Invalid value", "not both"}},
		"prefix no space":   {"schedule: TZ=UTC", []string{`spec.schedule: Invalid value: "TZ=UTC": a CRON_TZ= prefix must be followed by a zone, a space and the schedule`}},
		"two prefixes":      {"schedule: 'TZ=UTC CRON_TZ=UTC * * * * *'", []string{"spec.schedule: Invalid value", "more than one CRON_TZ= prefix"}},
		"data and base64":   {"{data: x, dataBase64: eA==}", []string{"spec.dataBase64: Invalid value", "set data or dataBase64, not both"}},
		"bad base64":        {"dataBase64: 'not base64!'", []string{`spec.dataBase64: Invalid value: "not base64!": must be standard base64`}},
		"json data":         {"{contentType: application/json, data: 'not json'}", []string{`spec.data: Invalid value: "not json": must be JSON`}},
		"json base64":       {"{contentType: 'application/cloudevents+json; charset=utf-8', dataBase64: bm90IGpzb24=}", []string{"spec.dataBase64: Invalid value", "must decode to JSON"}},
		"bad content type":  {"contentType: 'text/'", []string{`spec.contentType: Invalid value: "text/"`}},
		"bad override name": {"ceOverrides: {extensions: {Extra: x}}", []string{`spec.ceOverrides.extensions[Extra]: Invalid value`}},
	}
	for name, c := range cases {
		_, err := admit(t, strings.Replace(pingBase, "spec:\n", "spec:\n"+flowToBlock(c.spec), 1))
		expectInvalid(t, name, err, c.want...)
	}
	for _, ok := range []string{
		"schedule: '@hourly'",
		"schedule: 'CRON_TZ=Europe/Paris 0 9 * * 1-5'",
		"schedule: 'TZ=UTC */5 * * * *'",
		"timezone: Asia/Tokyo",
		"data: '[1, 2]'\n  contentType: application/json",
	} {
		if _, err := admit(t, strings.Replace(pingBase, "spec:\n", "spec:\n  "+ok+"\n", 1)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// flowToBlock turns "a: x" or "{a: x, b: y}" into block lines of a spec (values must not hold
// ", ").
func flowToBlock(flow string) string {
	if !strings.HasPrefix(flow, "{") {
		return "  " + flow + "\n"
	}
	var b strings.Builder
	for _, kv := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(flow, "{"), "}"), ", ") {
		b.WriteString("  " + kv + "\n")
	}
	return b.String()
}

func TestParseScheduleTimeZones(t *testing.T) {
	from := time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)
	cases := []struct {
		schedule, timezone string
		want               time.Time
	}{
		{"0 9 * * *", "Asia/Tokyo", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Asia/Tokyo 0 9 * * *", "", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"0 9 * * *", "UTC", time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)},
		{"@daily", "America/New_York", time.Date(2024, 1, 1, 5, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		s, err := sources.ParseSchedule(c.schedule, c.timezone)
		if err != nil {
			t.Fatalf("%q in %q: %v", c.schedule, c.timezone, err)
		}
		if got := s.Next(from); !got.Equal(c.want) {
			t.Errorf("%q in %q: next after %v is %v, want %v", c.schedule, c.timezone, from, got, c.want)
		}
	}
	_, err := sources.ParseSchedule("* * * * *", "Nowhere/Land")
	var se *sources.ScheduleError
	if !errors.As(err, &se) || se.Field != "timezone" {
		t.Errorf("bad zone: %v", err)
	}
}

func TestPingSourceConditions(t *testing.T) {
	var s sources.PingSourceStatus
	s.InitializeConditions()
	s.MarkSink("http://x")
	s.MarkDeployed()
	if !s.IsReady() {
		t.Fatalf("not ready: %+v", s.Conditions)
	}
	s.MarkNotDeployed("NoScheduler", "the scheduler is down")
	if s.IsReady() || s.GetCondition("Ready").Reason != "NoScheduler" {
		t.Fatalf("%+v", s.Conditions)
	}
	s.MarkDeployed()
	s.MarkNoSink("NotFound", "gone")
	if s.IsReady() || s.SinkURI != "" {
		t.Fatalf("%+v", s)
	}
}
