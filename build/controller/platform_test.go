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
	"strings"
	"testing"
	"time"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
	corev1 "k8s.io/api/core/v1"
)

// The platform as `eddy up` runs it: a go-function Build of a git repository, and a Service
// whose image is the Build's artifact (build://NAMESPACE/NAME), created before the Build
// finished, answers with the built code once it has.
func TestBuiltArtifactServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		ResyncPeriod: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); p.Shutdown(context.Background()) })
	e := &env{p: p, client: reconciler.NewClient(p.Store, p.Registry)}
	repo := executortest.NewRepo(t)
	commit := repo.Commit(goFunction, "a function")
	e.apply(t, fmt.Sprintf(`
apiVersion: build.knative.dev/v1alpha1
kind: Build
metadata: {name: fn}
spec:
  source: {git: {url: %q, revision: %s}}
  template: {name: go-function, kind: ClusterBuildTemplate}
`, "file://"+repo.Dir, commit))
	// The Service comes before the artifact exists: its revision waits for it.
	e.apply(t, `
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: built}
spec:
  template:
    spec:
      containers: [{image: "build://default/fn"}]
`)
	var b apibuild.Build
	eventually(t, "the build to succeed", func() bool {
		return e.client.Get(context.Background(), "default", "fn", &b) == nil && b.Status.IsDone()
	})
	if !b.Status.IsSucceeded() || b.Status.Artifact == nil {
		t.Fatalf("build: %s", condition(&b))
	}
	svc := &serving.Service{}
	eventually(t, "the service to be ready", func() bool {
		return e.client.Get(context.Background(), "default", "built", svc) == nil && svc.Status.IsReady()
	})
	req, _ := http.NewRequest("GET", p.IngressURL, nil)
	req.Host = "built.default.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "hello from a build" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}

// The flagship flow, through every part as `eddy up` runs them: a signed push webhook for a
// local repository reaches a GitHubSource, goes through a Broker and a Trigger to the
// rollout handler, which builds the pushed commit and moves the Service to it; the Service
// answers with the new code. A second push whose code does not compile leaves the old
// revision serving, and the rollout says why.
func TestPushRollsOutThroughGitHubSource(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, platform.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		ResyncPeriod: time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); p.Shutdown(context.Background()) })
	e := &env{p: p, client: reconciler.NewClient(p.Store, p.Registry)}
	repo := executortest.NewRepo(t)
	good := repo.Commit(goFunction, "a function")

	const secret = "It's a Secret to Everybody"
	e.apply(t, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata: {name: gh}
stringData: {secretToken: %q}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: {name: repo}
spec:
  ownerAndRepository: Codertocat/Hello-World
  eventTypes: [push]
  secretToken: {secretKeyRef: {name: gh, key: secretToken}}
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: rollout-hello}
data: {repository: Codertocat/Hello-World, branch: main, url: %q}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: rollout-hello}
spec:
  broker: default
  filter: {attributes: {type: dev.knative.source.github.push}}
  subscriber: {uri: %q}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: hello}
spec:
  template:
    spec:
      containers: [{image: "ko://github.com/eddyplatform/eddy/examples/helloworld-go"}]
`, secret, "file://"+repo.Dir, p.IngressURL+"/rollouts/default/hello"))
	src := &sources.GitHubSource{}
	eventually(t, "the GitHubSource and the Trigger to be ready", func() bool {
		tr := &eventing.Trigger{}
		return e.client.Get(context.Background(), "default", "repo", src) == nil && src.Status.IsReady() &&
			e.client.Get(context.Background(), "default", "rollout-hello", tr) == nil && tr.Status.IsReady()
	})
	push := func(commit string) {
		t.Helper()
		payload := pushEvent(t, "refs/heads/main", commit, "file://"+repo.Dir)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(payload)
		req, _ := http.NewRequest("POST", src.Status.URL, bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "delivery-"+commit[:8])
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("the webhook answered %d", resp.StatusCode)
		}
	}
	answer := func() string {
		req, _ := http.NewRequest("GET", p.IngressURL, nil)
		req.Host = "hello.default.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	push(good)
	eventually(t, "the pushed code to serve", func() bool { return answer() == "hello from a build" })

	bad := repo.Commit(map[string]string{"main.go": "package main\n\nfunc main() { undefined() }\n"}, "broken")
	push(bad)
	cm := &corev1.ConfigMap{}
	eventually(t, "the rollout to report the failed build", func() bool {
		return e.client.Get(context.Background(), "default", "rollout-hello", cm) == nil &&
			strings.Contains(cm.Annotations["rollout.eddy.dev/latest-build"], bad[:12]) &&
			strings.Contains(strings.ToLower(cm.Annotations["rollout.eddy.dev/status"]), "fail")
	})
	if got := answer(); got != "hello from a build" {
		t.Fatalf("after a broken push the service answers %q", got)
	}
}
