package conformance

import (
	"bytes"
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestReceiverCasesAreWhatTheySay checks every receiver case against the validators: the
// cases a receiver must accept are valid CloudEvents, the ones it must refuse are not.
func TestReceiverCasesAreWhatTheySay(t *testing.T) {
	seen := map[string]bool{}
	modes := map[Mode]int{}
	versions := map[string]int{}
	for _, c := range ReceiverCases() {
		if c.ID == "" || c.Description == "" || c.Section == "" || seen[c.ID] {
			t.Errorf("case %q: needs a unique id, a description and a section", c.ID)
		}
		seen[c.ID] = true
		vs := Violations(ValidateHTTP(c.Header, c.Body))
		ct := ""
		for k, v := range c.Header {
			if strings.EqualFold(k, "content-type") {
				ct = v[0]
			}
			if strings.EqualFold(k, "ce-specversion") {
				versions[v[0]]++
			}
		}
		modes[DetectMode(ct)]++
		if strings.Contains(string(c.Body), `"specversion":"0.3"`) {
			versions["0.3"]++
		}
		switch c.Expect {
		case ExpectAccept, ExpectAcceptOrUnsupported:
			if errs := vs.Errors(); len(errs) > 0 {
				t.Errorf("%s must be accepted, but the validators find %v", c.ID, errs)
			}
		case ExpectReject:
			if len(vs.Errors()) == 0 {
				t.Errorf("%s must be refused, but the validators find nothing wrong (%v)", c.ID, vs)
			}
		}
	}
	if modes[ModeBinary] < 5 || modes[ModeStructured] < 5 || modes[ModeBatch] < 3 || versions["0.3"] < 3 {
		t.Errorf("coverage: modes %v, versions %v", modes, versions)
	}
}

func TestJudgeStatus(t *testing.T) {
	accept := ReceiverCase{Expect: ExpectAccept}
	reject := ReceiverCase{Expect: ExpectReject}
	batch := ReceiverCase{Expect: ExpectAcceptOrUnsupported}
	should := ReceiverCase{Expect: ExpectReject, Should: true}
	for _, tc := range []struct {
		c    ReceiverCase
		code int
		want Verdict
	}{
		{accept, 200, Pass}, {accept, 202, Pass}, {accept, 204, Pass}, {accept, 400, Fail}, {accept, 500, Fail}, {accept, 302, Fail},
		{reject, 400, Pass}, {reject, 422, Pass}, {reject, 415, Pass}, {reject, 202, Fail}, {reject, 500, Fail}, {reject, 301, Fail},
		{batch, 202, Pass}, {batch, 415, Pass}, {batch, 400, Warn}, {batch, 503, Fail},
		{should, 202, Warn}, {should, 400, Pass}, {should, 500, Fail},
	} {
		if got, why := JudgeStatus(tc.c, tc.code, ""); got != tc.want || why == "" {
			t.Errorf("expect %v, should %v, %d: %s (%s), want %s", tc.c.Expect, tc.c.Should, tc.code, got, why, tc.want)
		}
	}
}

// TestVerifyReceiverBroken runs the suite against a receiver that accepts everything: every
// case that must be refused fails.
func TestVerifyReceiverBroken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	rep := VerifyReceiver(context.Background(), srv.URL, ReceiverOptions{})
	if !rep.Failed() {
		t.Fatal("a receiver that accepts everything passes")
	}
	for i, c := range ReceiverCases() {
		r := rep.Results[i]
		want := Pass
		if c.Expect == ExpectReject {
			want = Fail
			if c.Should {
				want = Warn
			}
		}
		if r.ID != c.ID || r.Verdict != want {
			t.Errorf("%s: %s (%s), want %s", c.ID, r.Verdict, r.Why, want)
		}
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table, true); err != nil {
		t.Fatal(err)
	}
	out := table.String()
	for _, want := range []string{"RESULT  CASE", "FAIL    binary-1.0-missing-id", "200 OK — an invalid message was accepted", "expect 4xx", rep.Summary()} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	var junit bytes.Buffer
	if err := rep.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var parsed junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &parsed); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, junit.String())
	}
	s := parsed.Suites[0]
	if s.Tests != len(rep.Results) || s.Failures != rep.Count(Fail) || len(s.Cases) != s.Tests || s.Props[0].Value != srv.URL {
		t.Errorf("JUnit suite %+v", s)
	}
	failures := 0
	for _, c := range s.Cases {
		if c.Failure != nil {
			failures++
		}
	}
	if failures != s.Failures {
		t.Errorf("%d <failure> elements, %d failures", failures, s.Failures)
	}
}

// TestVerifyReceiverVariants: a server error fails everything; a receiver without batch
// support that says 415 passes the batch cases; an unreachable receiver fails.
func TestVerifyReceiverVariants(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	rep := VerifyReceiver(context.Background(), srv.URL, ReceiverOptions{})
	srv.Close()
	if rep.Count(Fail) != len(rep.Results) {
		t.Errorf("500 for everything: %s", rep.Summary())
	}

	noBatch := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if DetectMode(r.Header.Get("Content-Type")) == ModeBatch {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
		(&Listener{}).ServeHTTP(w, r)
	}))
	defer noBatch.Close()
	var batchCases []ReceiverCase
	for _, c := range ReceiverCases() {
		if strings.HasPrefix(c.ID, "batch") {
			batchCases = append(batchCases, c)
		}
	}
	rep = VerifyReceiver(context.Background(), noBatch.URL, ReceiverOptions{Cases: batchCases, Header: http.Header{"Authorization": {"Bearer x"}}})
	if rep.Count(Pass) != len(batchCases) {
		t.Errorf("415 for batches: %+v", rep.Results)
	}

	rep = VerifyReceiver(context.Background(), "http://127.0.0.1:1/", ReceiverOptions{Cases: batchCases[:1], Client: &http.Client{Timeout: time.Second}})
	if !rep.Failed() || !strings.HasPrefix(rep.Results[0].Why, "no answer") {
		t.Errorf("unreachable: %+v", rep.Results)
	}
}

func TestProducerVerifier(t *testing.T) {
	var streamed []Result
	pv := &ProducerVerifier{Count: 3, OnResult: func(r Result) { streamed = append(streamed, r) }}
	srv := httptest.NewServer(pv)
	defer srv.Close()
	if code, _ := post(t, srv.URL, binaryHeaders("1.0", "P-1", "Content-Type", "application/json"), `{"n":1}`); code != 202 {
		t.Errorf("valid: %d", code)
	}
	if code, body := post(t, srv.URL, binaryHeaders("1.0", "P-2", "ce-subject", "Euro €"), ""); code != 400 || !strings.Contains(body, "header-encoding") && !strings.Contains(body, "percent") {
		t.Errorf("raw UTF-8 header: %d %s", code, body)
	}
	select {
	case <-pv.Done():
		t.Fatal("done after 2 of 3")
	default:
	}
	if code, _ := post(t, srv.URL, binaryHeaders("1.0", "P-3", "ce-subject", `"quoted"`), ""); code != 202 {
		t.Errorf("legacy quoted: %d", code)
	}
	select {
	case <-pv.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("not done after 3 of 3")
	}
	if code, _ := post(t, srv.URL, binaryHeaders("1.0", "P-4"), ""); code != http.StatusServiceUnavailable {
		t.Errorf("a fourth event: %d", code)
	}
	rep := pv.Report(srv.URL)
	got := []Verdict{}
	for _, r := range rep.Results {
		got = append(got, r.Verdict)
	}
	if len(got) != 3 || got[0] != Pass || got[1] != Fail || got[2] != Warn || len(streamed) != 3 {
		t.Errorf("verdicts %v: %+v", got, rep.Results)
	}
	if !strings.Contains(rep.Results[0].Description, "id P-1") || !strings.Contains(rep.Results[1].Why, "header-encoding") {
		t.Errorf("%+v", rep.Results)
	}

	short := &ProducerVerifier{Count: 2}
	if rep := short.Report("x"); !rep.Failed() || rep.Results[0].ID != "event-count" {
		t.Errorf("no events: %+v", rep.Results)
	}
	if rep := (&ProducerVerifier{}).Report("x"); !rep.Failed() {
		t.Error("no events, no count: passes")
	}
	empty := httptest.NewServer(&ProducerVerifier{})
	defer empty.Close()
	if code, _ := post(t, empty.URL, nil, ""); code != 400 {
		t.Errorf("empty POST: %d", code)
	}
}
