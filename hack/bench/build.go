package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddyplatform/eddy/api"
	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/serving"
	buildcontroller "github.com/eddyplatform/eddy/build/controller"
	"github.com/eddyplatform/eddy/platform"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// buildRuns is how many timed runs each build figure takes the median of.
const buildRuns = 5

// fnSource is a function answering text: each run changes the text, so each build compiles.
func fnSource(text string) string {
	return `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, ` + strconv.Quote(text) + `) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil); err != nil {
		panic(err)
	}
}
`
}

// printBuild prints the build figures: seconds from creating a Build and a Service through
// the API (what `eddy deploy` does) to the new code's first answer, and from a push to the
// rollout handler to the new revision answering, each the median of buildRuns changed
// versions with a warm Go build cache, beside `go build` of the same package timed directly.
// rawRate is the run's raw HTTP baseline, which these second-scale figures do not use.
func printBuild(rawRate float64) {
	_ = rawRate
	fmt.Println("\nBuild: code change → Build (go-function) → Service answering, warm Go build cache")
	dir, err := os.MkdirTemp("", "eddy-bench-build")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := platform.Start(ctx, platform.Config{DataDir: filepath.Join(dir, "data"), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fail(err)
	}
	defer p.Shutdown(context.Background())
	dc, err := dynamic.NewForConfig(&rest.Config{Host: p.APIURL, BearerToken: p.Token, QPS: 500, Burst: 1000})
	if err != nil {
		fail(err)
	}
	b := &buildBench{p: p, dc: dc, dir: dir}

	src := filepath.Join(dir, "fn")
	b.write(src, "go.mod", "module example.com/fn\n\ngo 1.22\n")
	b.write(src, "main.go", fnSource("warm-up"))
	if out, err := b.goBuild(src); err != nil { // warms the cache for the standard library
		fail(fmt.Errorf("go build: %v: %s", err, out))
	}
	var base, deploy, rollout []time.Duration
	for i := 0; i < buildRuns; i++ {
		b.write(src, "main.go", fnSource(fmt.Sprintf("baseline-%d-%d", i, time.Now().UnixNano())))
		t0 := time.Now()
		if out, err := b.goBuild(src); err != nil {
			fail(fmt.Errorf("go build: %v: %s", err, out))
		}
		base = append(base, time.Since(t0))
	}
	for i := 0; i < buildRuns; i++ {
		text := fmt.Sprintf("deploy-%d-%d", i, time.Now().UnixNano())
		b.write(src, "main.go", fnSource(text))
		t0 := time.Now()
		b.deploy(ctx, src, fmt.Sprintf("fn-%d", i))
		b.waitAnswer("fn", text)
		deploy = append(deploy, time.Since(t0))
	}
	rollout = b.rollouts(ctx)

	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tVALUE\tBASELINE (same run)")
	fmt.Fprintf(tw, "deploy (Build + Service over the API) → first answer, median of %d\t%.2fs\tgo build of the same package %.2fs (%.2f×)\n",
		buildRuns, median(deploy).Seconds(), median(base).Seconds(), float64(median(deploy))/float64(median(base)))
	fmt.Fprintf(tw, "push to /rollouts → new revision answering, median of %d\t%.2fs\tgo build of the same package %.2fs (%.2f×)\n",
		buildRuns, median(rollout).Seconds(), median(base).Seconds(), float64(median(rollout))/float64(median(base)))
	tw.Flush()
}

type buildBench struct {
	p   *platform.Platform
	dc  dynamic.Interface
	dir string
}

func (b *buildBench) write(dir, name, data string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		fail(err)
	}
}

func (b *buildBench) goBuild(src string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(b.dir, "fn-direct"), ".")
	cmd.Dir = src
	return cmd.CombinedOutput()
}

func (b *buildBench) resource(group, version, plural string) dynamic.ResourceInterface {
	return b.dc.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: plural}).Namespace("default")
}

func (b *buildBench) create(ctx context.Context, ri dynamic.ResourceInterface, obj api.Object) {
	u, err := api.ToUnstructured(obj)
	if err != nil {
		fail(err)
	}
	if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		fail(err)
	}
}

// deploy does what `eddy deploy` does: a go-function Build of the local directory, then,
// once the Build succeeded, the Service "fn" created, or its image updated, to its artifact.
func (b *buildBench) deploy(ctx context.Context, src, build string) {
	ri := b.resource(apibuild.Group, apibuild.Version, "builds")
	b.create(ctx, ri, &apibuild.Build{
		TypeMeta:   metav1.TypeMeta{APIVersion: apibuild.Group + "/" + apibuild.Version, Kind: "Build"},
		ObjectMeta: metav1.ObjectMeta{Name: build, Namespace: "default"},
		Spec: apibuild.BuildSpec{
			Source:   &apibuild.SourceSpec{Local: &apibuild.LocalSourceSpec{Path: src}},
			Template: &apibuild.TemplateInstantiationSpec{Name: "go-function", Kind: apibuild.ClusterBuildTemplateKind},
		},
	})
	deadline := time.Now().Add(5 * time.Minute)
	for {
		u, err := ri.Get(ctx, build, metav1.GetOptions{})
		if err != nil {
			fail(err)
		}
		var bd apibuild.Build
		if err := api.FromUnstructured(u, &bd); err != nil {
			fail(err)
		}
		if bd.Status.IsDone() {
			if !bd.Status.IsSucceeded() {
				fail(fmt.Errorf("build %s failed: %+v", build, bd.Status.Succeeded()))
			}
			break
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("build %s did not finish", build))
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.setImage(ctx, "fn", apibuild.ArtifactURI("default", build))
}

// setImage creates the Service name with image, or updates its image.
func (b *buildBench) setImage(ctx context.Context, name, image string) {
	ri := b.resource(serving.Group, serving.Version, "services")
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc := &serving.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: serving.Group + "/" + serving.Version, Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		}
		svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}}
		b.create(ctx, ri, svc)
		return
	}
	if err != nil {
		fail(err)
	}
	var svc serving.Service
	if err := api.FromUnstructured(u, &svc); err != nil {
		fail(err)
	}
	svc.Spec.Template.Name = ""
	svc.Spec.Template.Spec.Containers[0].Image = image
	nu, err := api.ToUnstructured(&svc)
	if err != nil {
		fail(err)
	}
	if _, err := ri.Update(ctx, nu, metav1.UpdateOptions{}); err != nil {
		fail(err)
	}
}

// waitAnswer polls the Service through the ingress until it answers text.
func (b *buildBench) waitAnswer(name, text string) {
	hc := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequest("GET", b.p.IngressURL, nil)
		req.Host = name + ".default.localhost"
		if resp, err := hc.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == text {
				return
			}
		}
		if time.Now().After(deadline) {
			fail(fmt.Errorf("service %s never answered %q", name, text))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rollouts times buildRuns pushes to the rollout handler, each of a new commit of a local git
// repository, until the new revision answers; an untimed first push makes the Service.
func (b *buildBench) rollouts(ctx context.Context) []time.Duration {
	repo := filepath.Join(b.dir, "repo")
	b.write(repo, "go.mod", "module example.com/roll\n\ngo 1.22\n")
	b.git(repo, "init", "-q", "-b", "main")
	b.create(ctx, b.dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default"), &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: buildcontroller.RolloutConfigMapPrefix + "roll", Namespace: "default"},
		Data:       map[string]string{"repository": "bench/roll", "branch": "main"},
	})
	b.setImage(ctx, "roll", "example.com/placeholder") // the first push replaces it
	var out []time.Duration
	for i := 0; i <= buildRuns; i++ {
		text := fmt.Sprintf("push-%d-%d", i, time.Now().UnixNano())
		b.write(repo, "main.go", fnSource(text))
		b.git(repo, "add", "-A")
		b.git(repo, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", text)
		commit := strings.TrimSpace(b.git(repo, "rev-parse", "HEAD"))
		t0 := time.Now()
		b.push(repo, commit)
		b.waitAnswer("roll", text)
		if i > 0 {
			out = append(out, time.Since(t0))
		}
	}
	return out
}

func (b *buildBench) git(dir string, args ...string) string {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail(fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out))
	}
	return string(out)
}

// push posts a GitHub push CloudEvent of commit to the rollout handler on the ingress port.
func (b *buildBench) push(repo, commit string) {
	data, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "after": commit, "deleted": false,
		"repository": map[string]any{"full_name": "bench/roll", "clone_url": "file://" + repo},
	})
	req, _ := http.NewRequest(http.MethodPost, b.p.IngressURL+buildcontroller.RolloutPathPrefix+"default/roll", bytes.NewReader(data))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", commit)
	req.Header.Set("Ce-Source", "https://github.com/bench/roll")
	req.Header.Set("Ce-Type", buildcontroller.GitHubPushType)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		fail(fmt.Errorf("push %s: %s: %s", commit, resp.Status, body))
	}
}
