package controller_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
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
