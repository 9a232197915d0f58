package github

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	gogithub "github.com/google/go-github/v57/github"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCorpusSignatures checks every recorded signature with go-github's helper, and the
// official vector from GitHub's docs.
func TestCorpusSignatures(t *testing.T) {
	for _, d := range loadCorpus(t) {
		if err := gogithub.ValidateSignature(d.sig256, d.body, []byte(corpusSecret)); err != nil {
			t.Errorf("%s: X-Hub-Signature-256: %v", d.file, err)
		}
		if err := gogithub.ValidateSignature(d.sigSHA1, d.body, []byte(corpusSecret)); err != nil {
			t.Errorf("%s: X-Hub-Signature: %v", d.file, err)
		}
		if got := sign(corpusSecret, d.body); got != d.sig256 {
			t.Errorf("%s: HMAC %s, recorded %s", d.file, got, d.sig256)
		}
	}
	const vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if err := gogithub.ValidateSignature(vector, []byte("Hello, World!"), []byte(corpusSecret)); err != nil {
		t.Errorf("docs vector: %v", err)
	}
}

// TestCorpus posts every recorded delivery, with its recorded signature, to a Receiver over
// HTTP and checks the CloudEvent it sends against testdata/expected.tsv.
func TestCorpus(t *testing.T) {
	corpus := loadCorpus(t)
	want := loadExpected(t)
	rec := &recorder{}
	reg := prometheus.NewPedanticRegistry()
	r, err := NewReceiver(ReceiverConfig{
		Secret:             []byte(corpusSecret),
		OwnerAndRepository: "Codertocat/Hello-World",
		EventTypes:         []string{"*", "ping"}, // every event, pings included
		Sender:             rec,
		Logger:             testLogger(&syncBuffer{}),
		Metrics:            reg,
		Namespace:          "ns",
		Name:               "corpus",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()

	for i, d := range corpus {
		id := fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", i)
		code, msg := post(t, srv.Client(), srv.URL, map[string]string{
			"Content-Type":    "application/json",
			HeaderEvent:       d.event,
			HeaderDelivery:    id,
			HeaderSignature:   d.sig256,
			"X-Hub-Signature": d.sigSHA1,
		}, bytes.NewReader(d.body))
		if code != http.StatusAccepted {
			t.Errorf("%s: status %d %q", d.file, code, msg)
			continue
		}
		evs := rec.all()
		if len(evs) != i+1 {
			t.Fatalf("%s: %d events sent after %d deliveries", d.file, len(evs), i+1)
		}
		ev := evs[i]
		exp, ok := want[d.file]
		if !ok {
			t.Errorf("%s: not in expected.tsv", d.file)
			continue
		}
		checkEvent(t, d.file, ev, id, exp, d.body)
	}
	if got := counter(t, reg, "eddy_github_source_events_sent_total", map[string]string{"name": "corpus"}); got != float64(len(corpus)) {
		t.Errorf("sent counter %v, want %d", got, len(corpus))
	}
}

func checkEvent(t *testing.T, file string, ev event.Event, id string, exp expectation, body []byte) {
	t.Helper()
	if err := ev.Validate(); err != nil {
		t.Errorf("%s: invalid event: %v", file, err)
	}
	if ev.ID() != id || ev.Type() != exp.typ || ev.Source() != exp.source || ev.Subject() != exp.subject {
		t.Errorf("%s: got id %q type %q source %q subject %q,\n want id %q type %q source %q subject %q",
			file, ev.ID(), ev.Type(), ev.Source(), ev.Subject(), id, exp.typ, exp.source, exp.subject)
	}
	if ev.DataContentType() != "application/json" || ev.DataBase64 {
		t.Errorf("%s: datacontenttype %q base64 %v", file, ev.DataContentType(), ev.DataBase64)
	}
	if !bytes.Equal(ev.Data(), body) {
		t.Errorf("%s: data differs from the delivered body", file)
	}
	if !ev.Time().IsZero() {
		t.Errorf("%s: time set", file)
	}
}

// TestCorpusExtensions checks the Knative extension attributes on a few deliveries.
func TestCorpusExtensions(t *testing.T) {
	byFile := map[string]delivery{}
	for _, d := range loadCorpus(t) {
		byFile[d.file] = d
	}
	cases := map[string]map[string]any{
		"push/payload.json": {
			"owner": "Codertocat", "repository": "Hello-World", "sender": "Codertocat",
			"ref": "refs/tags/simple-tag", "pusher": "Codertocat", "created": false, "deleted": true, "forced": false,
		},
		"pull_request/opened.payload.json": {
			"owner": "Codertocat", "repository": "Hello-World", "sender": "Codertocat", "action": "opened", "number": int32(2), "installation": "1",
		},
		"label/created.payload.json": {"action": "created", "label": ":bug: Bugfix"},
		"status/payload.json":        {"state": "success", "name": "Codertocat/Hello-World", "context": "default"},
		"organization/member_added.payload.json": {
			"owner": "Octocoders", "sender": "Codertocat", "action": "member_added",
		},
		"installation/created.payload.json": {"installation": "957387", "action": "created", "sender": "Codertocat"},
		"ping/payload.json":                 {"owner": "Octocoders", "repository": "Hello-World"},
	}
	for file, want := range cases {
		d, ok := byFile[file]
		if !ok {
			t.Fatalf("%s not in corpus", file)
		}
		ev, err := NewEvent(d.event, "d1", d.body, MapOptions{})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		exts := ev.Extensions()
		for k, v := range want {
			if exts[k] != v {
				t.Errorf("%s: extension %s = %#v, want %#v", file, k, exts[k], v)
			}
		}
	}
}
