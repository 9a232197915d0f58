package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFuncConfig(t *testing.T) {
	good := scaffoldGo("hello")[funcFile]
	c, err := parseFuncConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "hello" || c.Env["GREETING"] != "Hello" || c.Annotations["autoscaling.knative.dev/min-scale"] != "0" ||
		len(c.Events) != 1 || c.Events[0].Broker != "default" || c.Events[0].Filter.Attributes["type"] != "dev.eddy.greeting" {
		t.Fatalf("%+v", c)
	}
	if n := c.triggerName(0); n != "hello-default-0" {
		t.Errorf("trigger name %q", n)
	}
	for _, bad := range []struct{ yaml, want string }{
		{"env: {A: b}\n", "name: required"},
		{"name: Hello\n", "name \"Hello\""},
		{"name: " + strings.Repeat("a", maxFuncName+1) + "\n", "at most 52 characters"},
		{"name: x\nenvv: {}\n", `unknown field "envv"`},
		{"name: x\nenv: {1A: b}\n", `env "1A"`},
		{"name: x\nannotations: {'a b': c}\n", `annotations "a b"`},
		{"name: x\nevents: [{filter: {attributes: {type: t}}}]\n", "events[0].broker: required"},
		{"name: x\nevents: [{broker: b, name: t}, {broker: c, name: t}]\n", `events[1].name "t": duplicate`},
		{"name: [x\n", "func.yaml"},
	} {
		_, err := parseFuncConfig([]byte(bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: err %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

func FuzzParseFuncConfig(f *testing.F) {
	f.Add([]byte(scaffoldGo("hello")[funcFile]))
	f.Add([]byte("name: x\nevents: [{broker: b, name: t}, {broker: c}]\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseFuncConfig(data)
		if err != nil {
			return
		}
		if c.Name == "" || len(c.Name) > maxFuncName {
			t.Fatalf("accepted name %q", c.Name)
		}
		for i := range c.Events {
			if c.Events[i].Broker == "" || c.triggerName(i) == "" {
				t.Fatalf("accepted event %d: %+v", i, c.Events[i])
			}
		}
	})
}

func TestContentHash(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hash := func() string {
		t.Helper()
		h, err := contentHash(dir)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	write("main.go", "package main\n")
	write("go.mod", "module x\n")
	write(funcFile, "name: x\n")
	h0 := hash()
	write(funcFile, "name: x\nenv: {A: b}\n") // the deployment's file: not the code
	write(".git/HEAD", "ref: refs/heads/main\n")
	if h := hash(); h != h0 {
		t.Fatal("func.yaml or a hidden directory changed the hash")
	}
	write("pkg/a.go", "package pkg\n")
	h1 := hash()
	if h1 == h0 {
		t.Fatal("a new file did not change the hash")
	}
	write("pkg/a.go", "package pkg // changed\n")
	if h := hash(); h == h1 {
		t.Fatal("a changed file did not change the hash")
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "greeter")
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"init", dir, "--lang", "go"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "init", out.String(), "created "+filepath.Join(dir, "main.go"), "eddy deploy "+dir)
	data, err := os.ReadFile(filepath.Join(dir, funcFile))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "func.yaml", string(data), "name: greeter")
	if mod, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !strings.Contains(string(mod), "go 1.22") {
		t.Fatalf("go.mod: %s", mod)
	}
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("mine"), 0o644)
	root = newRootCommand()
	root.SetOut(io.Discard)
	root.SetArgs([]string{"init", dir, "--lang", "go", "--name", "other"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("init over an existing function: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(b) != "mine" {
		t.Fatal("init overwrote main.go")
	}
	root = newRootCommand()
	root.SetArgs([]string{"init", t.TempDir(), "--lang", "rust"})
	if err := root.Execute(); err == nil {
		t.Fatal("--lang rust accepted")
	}
}

// TestFunctionInitDeploy: init, deploy and curl through the ingress; an unchanged deploy
// makes no Build and no Revision; changed code makes a new Revision answering the new text;
// a CloudEvent gets a CloudEvent back; a broken change fails with the compiler's output and
// leaves the running revision serving.
func TestFunctionInitDeploy(t *testing.T) {
	p := startUp(t, t.TempDir())
	ingress := <-p.ingress
	dir := filepath.Join(t.TempDir(), "hello")
	p.eddy(t, false, "", "init", dir, "--lang", "go")

	get := func(want string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ingress, nil)
		req.Host = "hello.default.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("GET: %d %q, want %q", resp.StatusCode, body, want)
		}
	}
	revisions := func() int {
		t.Helper()
		n := 0
		for _, line := range strings.Split(p.eddy(t, false, "", "get", "revisions"), "\n") {
			if strings.HasPrefix(line, "hello-0") {
				n++
			}
		}
		return n
	}

	t0 := time.Now()
	out := p.eddy(t, false, "", "deploy", dir)
	t.Logf("first deploy: %s", time.Since(t0))
	mustContain(t, "deploy", out, "build/hello-", "created (go-function of "+dir+")", "step build: done",
		"artifact build://default/hello-", "service/hello created", "trigger/hello-default-0 created (broker default → service/hello)",
		"service/hello is ready: revision hello-00001", "URL: http://hello.default.localhost:", "Try: curl -H 'Host: hello.default.localhost' http://127.0.0.1:")
	get("Hello from hello!\n")
	mustContain(t, "get triggers", p.eddy(t, false, "", "get", "triggers"), "hello-default-0")

	out = p.eddy(t, false, "", "deploy", dir)
	mustContain(t, "unchanged deploy", out, "is up to date", "service/hello unchanged", "trigger/hello-default-0 unchanged", "revision hello-00001")
	mustNotContain(t, "unchanged deploy", out, "created", "configured")
	if n := revisions(); n != 1 {
		t.Fatalf("%d revisions after an unchanged deploy", n)
	}
	mustContain(t, "build", p.eddy(t, false, "", "build", dir), "is up to date", "artifact build://default/hello-")

	mainGo := filepath.Join(dir, "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(src), `"%s from %s!"`, `"%s again from %s!"`, 1)
	if changed == string(src) {
		t.Fatal("the scaffold's greeting format moved")
	}
	if err := os.WriteFile(mainGo, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	out = p.eddy(t, false, "", "deploy", dir)
	mustContain(t, "changed deploy", out, "created (go-function", "service/hello configured", "revision hello-00002")
	get("Hello again from hello!\n")
	if n := revisions(); n != 2 {
		t.Fatalf("%d revisions after a changed deploy", n)
	}

	// A binary-mode CloudEvent gets a CloudEvent back.
	req, _ := http.NewRequest("POST", ingress, strings.NewReader(`{"hello":"world"}`))
	req.Host = "hello.default.localhost"
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", "42")
	req.Header.Set("Ce-Source", "/test")
	req.Header.Set("Ce-Type", "dev.eddy.greeting")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Ce-Specversion") != "1.0" || resp.Header.Get("Ce-Type") != "dev.eddy.function.reply" ||
		resp.Header.Get("Ce-Id") != "42-reply" || resp.Header.Get("Ce-Source") != "/functions/hello" {
		t.Fatalf("CloudEvent reply: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	var reply struct {
		Greeting string          `json:"greeting"`
		Type     string          `json:"type"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &reply); err != nil || reply.Greeting != "Hello again from hello!" || reply.Type != "dev.eddy.greeting" || string(reply.Data) != `{"hello":"world"}` {
		t.Fatalf("reply %s (%v)", body, err)
	}

	// Code that does not compile: deploy fails with the step's logs; the Service keeps serving.
	if err := os.WriteFile(mainGo, []byte("package main\n\nfunc main() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = p.eddy(t, true, "", "deploy", dir)
	mustContain(t, "broken deploy", out, "step build: failed with exit code 1", "--- logs of build/hello-", "undefined: undefined", "BuildFailed")
	mustNotContain(t, "broken deploy", out, "service/hello configured")
	get("Hello again from hello!\n")
}
