package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/control/apiserver"
)

// eddyBin is the eddy binary the end-to-end tests run as a child process.
var eddyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eddy-bin")
	if err != nil {
		panic(err)
	}
	eddyBin = filepath.Join(dir, "eddy")
	if repoRoot, err = filepath.Abs("../.."); err != nil {
		panic(err)
	}
	quickstart = filepath.Join(repoRoot, "examples", "quickstart")
	out, err := exec.Command("go", "build", "-o", eddyBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building eddy: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// child is an `eddy up` child process.
type child struct {
	cmd     *exec.Cmd
	apiURL  string
	ingress chan string // receives the ingress URL once
	dataDir string
	stderr  *bytes.Buffer
	done    chan error
}

// startUp runs `eddy up` on dataDir with free ports and waits until it says where it listens.
func startUp(t *testing.T, dataDir string, extra ...string) *child {
	t.Helper()
	args := append([]string{"up", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--ingress-addr", "127.0.0.1:0"}, extra...)
	cmd := exec.Command(eddyBin, args...)
	cmd.Dir = repoRoot
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &child{cmd: cmd, dataDir: dataDir, stderr: &bytes.Buffer{}, done: make(chan error, 1), ingress: make(chan string, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if !sent && len(f) >= 2 && f[0] == "API" {
				found <- f[1]
				sent = true
			}
			if len(f) >= 2 && f[0] == "Ingress" {
				select {
				case p.ingress <- f[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.apiURL = <-found:
	case err := <-p.done:
		t.Fatalf("eddy up exited early: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("eddy up did not report its address\n%s", p.stderr)
	}
	return p
}

// eddy runs a CLI verb against p and returns its output; failures are fatal unless wantErr.
func (p *child) eddy(t *testing.T, wantErr bool, stdin string, args ...string) string {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(p.dataDir, apiserver.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(eddyBin, args...)
	cmd.Env = append(os.Environ(), "EDDY_SERVER="+p.apiURL, "EDDY_TOKEN="+strings.TrimSpace(string(tok)))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		t.Fatalf("eddy %s: err=%v, wantErr=%v\n%s", strings.Join(args, " "), err, wantErr, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: missing %q in:\n%s", what, w, got)
		}
	}
}

func mustNotContain(t *testing.T, what, got string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(got, b) {
			t.Fatalf("%s: %q must not appear in:\n%s", what, b, got)
		}
	}
}

// repoRoot is the repository's root: `eddy up` runs there, so that the quickstart's
// ko://./examples/… images resolve. quickstart is its quickstart directory.
var repoRoot, quickstart string

func TestQuickstartApplyGetDescribe(t *testing.T) {
	p := startUp(t, t.TempDir(), "-f", quickstart)

	mustContain(t, "get ns", p.eddy(t, false, "", "get", "namespaces"), "default", "eddy-system", "quickstart", "Active")
	out := p.eddy(t, false, "", "get", "cm")
	mustContain(t, "get cm", out, "NAME", "DATA", "AGE", "quickstart")

	// Secret values never appear, in any output format or in the server's logs.
	for _, args := range [][]string{{"get", "secrets"}, {"get", "secret", "quickstart-webhook", "-o", "yaml"}, {"get", "secrets", "-o", "json"}, {"describe", "secret", "quickstart-webhook"}} {
		out := p.eddy(t, false, "", args...)
		mustNotContain(t, strings.Join(args, " "), out, "change-me", "Y2hhbmdlLW1l")
	}
	mustContain(t, "get secrets", p.eddy(t, false, "", "get", "secrets"), "quickstart-webhook", "Opaque")

	// Apply is idempotent, then notices a change; the quickstart applies as written.
	out = p.eddy(t, false, "", "apply", "-f", quickstart)
	mustContain(t, "re-apply", out, "namespace/quickstart unchanged", "configmap/quickstart unchanged", "secret/quickstart-webhook unchanged")
	changed := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: quickstart, labels: {app: quickstart}}\ndata: {greeting: changed}\n"
	mustContain(t, "apply change", p.eddy(t, false, changed, "apply", "-f", "-"), "configmap/quickstart configured")
	mustContain(t, "get -o yaml", p.eddy(t, false, "", "get", "cm", "quickstart", "-o", "yaml"), "greeting: changed")

	// --dry-run validates on the server and stores nothing.
	fresh := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry}\n"
	mustContain(t, "dry run", p.eddy(t, false, fresh, "apply", "--dry-run", "-f", "-"), "configmap/dry created (dry run)")
	mustContain(t, "get dry", p.eddy(t, true, "", "get", "cm", "dry"), "not found")

	// Invalid input is refused with the field path, and nothing else is lost.
	bad := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: good}\n"
	out = p.eddy(t, true, bad, "apply", "-f", "-")
	mustContain(t, "bad apply", out, "metadata.name", "configmap/good created")
	mustContain(t, "unknown field", p.eddy(t, true, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndtaa: {}\n", "apply", "-f", "-"), `unknown field "dtaa"`)

	out = p.eddy(t, false, "", "describe", "cm", "quickstart")
	mustContain(t, "describe", out, "Name:", "quickstart", "Labels:", "app=quickstart", "Data:", "greeting: changed", "Events:", "<none>")
	// Events recorded about an object (by a controller, here by hand) show in its description.
	ev := "apiVersion: v1\nkind: Event\nmetadata: {name: quickstart.1}\ninvolvedObject: {apiVersion: v1, kind: ConfigMap, name: quickstart, namespace: default}\n" +
		"type: Warning\nreason: Drifted\nmessage: greeting changed by hand\ncount: 2\nsource: {component: test}\n"
	p.eddy(t, false, ev, "apply", "-f", "-")
	out = p.eddy(t, false, "", "describe", "cm", "quickstart")
	mustContain(t, "describe events", out, "Warning", "Drifted", "(x2)", "test", "greeting changed by hand")
	mustContain(t, "get events", p.eddy(t, false, "", "get", "events"), "Drifted", "configmap/quickstart")

	mustContain(t, "delete", p.eddy(t, false, "", "delete", "cm", "good"), "configmap/good deleted")
	mustContain(t, "version", p.eddy(t, false, "", "version"), "Client: eddy", "Server: eddy")
	mustContain(t, "unknown kind", p.eddy(t, true, "", "get", "gadgets"), `doesn't have a resource type "gadgets"`)

	// Graceful stop: SIGTERM drains and exits 0.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("eddy up exited with %v after SIGTERM\n%s", err, p.stderr)
		}
		p.done <- nil // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("eddy up did not stop after SIGTERM")
	}
	mustNotContain(t, "server log", p.stderr.String(), "change-me")
}

// TestRestartKeepsEveryObject kills `eddy up` with SIGKILL and starts it again on the same
// data directory: every object comes back unchanged.
func TestRestartKeepsEveryObject(t *testing.T) {
	dir := t.TempDir()
	p := startUp(t, dir, "-f", quickstart)
	var many strings.Builder
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&many, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: quickstart}\ndata: {i: \"%d\"}\n---\n", i, i)
	}
	p.eddy(t, false, many.String(), "apply", "-f", "-")
	before := p.eddy(t, false, "", "get", "cm", "-A", "-o", "json")

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil

	q := startUp(t, dir)
	after := q.eddy(t, false, "", "get", "cm", "-A", "-o", "json")
	if norm(t, before) != norm(t, after) {
		t.Fatalf("objects changed across a SIGKILL restart:\nbefore %s\nafter  %s", before, after)
	}
	// 50 made here, and the quickstart's own two (quickstart, config-autoscaler).
	if n := strings.Count(after, `"kind": "ConfigMap"`); n != 52 {
		t.Fatalf("%d ConfigMaps after restart, want 52", n)
	}
	// The restarted store keeps counting: a write gets a newer resourceVersion.
	q.eddy(t, false, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: after}\n", "apply", "-f", "-")
}

func norm(t *testing.T, s string) string {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestServiceAndLogs: the quickstart's helloworld-go Service answers through the ingress port
// from zero instances, and `eddy logs` shows what its instance printed.
func TestServiceAndLogs(t *testing.T) {
	p := startUp(t, t.TempDir(), "-f", quickstart)
	ingress := <-p.ingress
	deadline := time.Now().Add(3 * time.Minute) // the first go build of the sample may take a while
	for !strings.Contains(p.eddy(t, false, "", "get", "ksvc", "helloworld-go"), "True") {
		if time.Now().After(deadline) {
			t.Fatalf("helloworld-go never became ready:\n%s", p.eddy(t, false, "", "describe", "ksvc", "helloworld-go"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", ingress, nil)
	req.Host = "helloworld-go.default.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "Hello Go Sample v1!\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	mustContain(t, "logs", p.eddy(t, false, "", "logs", "ksvc/helloworld-go"), "helloworld: listening on port", "helloworld: received a request", "[helloworld-go-00001-")
	mustContain(t, "logs of a broker", p.eddy(t, true, "", "logs", "broker/default"), "has no logs")
	mustContain(t, "get revisions", p.eddy(t, false, "", "get", "revisions"), "helloworld-go-00001", "True")
}
