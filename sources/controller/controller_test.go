package controller_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	"github.com/eddyplatform/eddy/platform/platformtest"
	"k8s.io/apimachinery/pkg/labels"
)

// env is a running platform with a client.
type env struct{ *platformtest.Env }

func start(t *testing.T) *env { return &env{platformtest.Start(t, platform.Config{})} }

// eventually polls cond for up to 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	platformtest.Eventually(t, what, 30*time.Second, cond)
}

// sink records the CloudEvents it receives.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	events []*event.Event
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) got() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

// A GitHubSource serves its receiver on the ingress port: a signed push delivery from the
// recorded corpus becomes a CloudEvent at the sink, with Knative's type and source, and the
// source's event types are recorded as EventType objects.
func TestGitHubSourceEndToEnd(t *testing.T) {
	e := start(t)
	s := newSink(t)
	const secret = "It's a Secret to Everybody" // the corpus's signing key
	e.Apply(t, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {secretToken: %q}
---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: {name: repo}
spec:
  ownerAndRepository: Codertocat/Hello-World
  eventTypes: [push, issues]
  secretToken: {secretKeyRef: {name: gh, key: secretToken}}
  sink: {uri: %q}
  ceOverrides: {extensions: {team: eddy}}
`, secret, s.URL))
	src := &sources.GitHubSource{}
	eventually(t, "the GitHubSource to be ready", func() bool {
		return e.Client.Get(context.Background(), "default", "repo", src) == nil && src.Status.IsReady() && src.Status.URL != ""
	})
	if !strings.HasSuffix(src.Status.URL, "/sources/github/default/repo") || src.Status.SinkURI != s.URL {
		t.Fatalf("status %+v", src.Status)
	}
	payload, err := os.ReadFile("../github/testdata/webhooks/push/payload.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", src.Status.URL, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-1")
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("sha256=" + strings.Repeat("0", 64)); code != http.StatusUnauthorized {
		t.Fatalf("a wrong signature got %d", code)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(payload)
	if code := post("sha256=" + hex.EncodeToString(mac.Sum(nil))); code != http.StatusAccepted {
		t.Fatalf("a signed push got %d", code)
	}
	evs := s.got()
	if len(evs) != 1 {
		t.Fatalf("the sink got %d events", len(evs))
	}
	ev := evs[0]
	if ev.Type() != "dev.knative.source.github.push" || ev.ID() != "d-1" || !strings.HasPrefix(ev.Source(), "https://github.com/") || ev.Extensions()["team"] != "eddy" {
		t.Fatalf("event %v", ev)
	}
	if !bytes.Equal(ev.Data(), payload) {
		t.Fatal("the event's data is not the delivered payload")
	}
	resp, err := http.Get(e.P.APIURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `eddy_source_events_sent_total{kind="GitHubSource",name="repo",namespace="default"} 1`) {
		t.Error("/metrics lacks the source's sent counter")
	}
	ets := func() []*eventing.EventType {
		l, _ := reconciler.List[*eventing.EventType](context.Background(), e.Client, "default", labels.Everything())
		return l
	}
	eventually(t, "the event types to be recorded", func() bool { return len(ets()) == 2 })
	types := map[string]bool{}
	for _, et := range ets() {
		types[et.Spec.Type] = true
	}
	if !types["dev.knative.source.github.push"] || !types["dev.knative.source.github.issues"] {
		t.Fatalf("event types %v", types)
	}
	// Deleting the source removes its receiver and its event types.
	if err := e.Client.Delete(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the event types to go", func() bool { return len(ets()) == 0 })
	resp, err = http.Post(src.Status.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a deleted source's receiver answered %d", resp.StatusCode)
	}
}

// A PingSource without a resolvable sink says why; with one it runs its schedule and reports
// the event type it produces.
func TestPingSourceStatus(t *testing.T) {
	e := start(t)
	e.Apply(t, `
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata: {name: tick}
spec:
  schedule: "*/5 * * * *"
  data: '{"hello":"ping"}'
  contentType: application/json
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: nowhere}}
`)
	src := &sources.PingSource{}
	eventually(t, "SinkProvided False", func() bool {
		if e.Client.Get(context.Background(), "default", "tick", src) != nil {
			return false
		}
		c := src.Status.GetCondition(sources.PingSourceConditionSinkProvided)
		return c != nil && c.IsFalse() && strings.Contains(c.Message, "nowhere")
	})
	e.Apply(t, "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: nowhere}\n")
	eventually(t, "the PingSource to be ready", func() bool {
		return e.Client.Get(context.Background(), "default", "tick", src) == nil && src.Status.IsReady()
	})
	if !strings.Contains(src.Status.SinkURI, "/brokers/default/nowhere") || len(src.Status.CloudEventAttributes) != 1 ||
		src.Status.CloudEventAttributes[0].Type != "dev.knative.sources.ping" {
		t.Fatalf("status %+v", src.Status)
	}
}

// The 2018 Feed of Knative's GitHub sample runs as a GitHubSource it owns; the Feed's status
// is the source's, and deleting the Feed deletes the source.
func TestFeedRunsAsSource(t *testing.T) {
	e := start(t)
	e.Apply(t, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: githubsecret}
stringData: {accessToken: "", secretToken: "s3cret"}
---
apiVersion: feeds.knative.dev/v1alpha1
kind: Feed
metadata: {name: github-feed}
spec:
  trigger:
    eventType: pullrequest
    resource: Codertocat/Hello-World
    service: github
    parameters: {secretName: githubsecret, secretKey: githubCredentials}
  action:
    dnsName: %s
`, "echo.default.svc.cluster.local"))
	child := &sources.GitHubSource{}
	eventually(t, "the Feed's GitHubSource", func() bool {
		return e.Client.Get(context.Background(), "default", "github-feed", child) == nil
	})
	if child.Spec.OwnerAndRepository != "Codertocat/Hello-World" || len(child.Spec.EventTypes) != 1 || child.Spec.EventTypes[0] != "pull_request" {
		t.Fatalf("child spec %+v", child.Spec)
	}
	feed := &feedsv1alpha1.Feed{}
	eventually(t, "the Feed to report its source's status", func() bool {
		return e.Client.Get(context.Background(), "default", "github-feed", feed) == nil && len(feed.Status.Conditions) > 0 && feed.Status.SinkURI != ""
	})
	if err := e.Client.Delete(context.Background(), feed); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the source to go with its Feed", func() bool {
		return e.Client.Get(context.Background(), "default", "github-feed", child) != nil
	})
}
