package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/conformance"
)

func init() {
	// In tests an exit status other than 1 is returned as an *exitCodeError, not exited with.
	exitFunc = nil
}

// syncBuffer is a bytes.Buffer safe for a server goroutine to write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runEddy runs the eddy command line in process and returns what it printed.
func runEddy(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	var out, errb syncBuffer
	err = runEddyTo(ctx, &out, &errb, args...)
	return out.String(), errb.String(), err
}

func runEddyTo(ctx context.Context, out, errOut io.Writer, args ...string) error {
	root := newRootCommand()
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// server is an `eddy events listen|raw` or `eddy conformance verify producer` running in
// process.
type server struct {
	url      string
	out, err *syncBuffer
	done     chan error
	cancel   context.CancelFunc
}

var listeningRE = regexp.MustCompile(`listening on (http://[^ ]+)`)

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &syncBuffer{}, err: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	go func() { s.done <- runEddyTo(ctx, s.out, s.err, args...) }()
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.err.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("%v ended: %v\n%s", args, err, s.err.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v did not start:\n%s", args, s.err.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop cancels the server and returns how it ended.
func (s *server) stop(t *testing.T) error {
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop")
	}
	return nil
}

func TestEventsSendListenHistoryDiff(t *testing.T) {
	var fmu sync.Mutex
	var forwarded []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		cs, err := conformance.CasesFromHTTP(r.Header, body)
		if err != nil || len(cs) != 1 {
			t.Errorf("forwarded: %v %v", cs, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmu.Lock()
		forwarded = append(forwarded, cs[0].Get("id"))
		fmu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()
	l := startServer(t, "events", "listen", "--port", "0", "--history", "10", "--forward", sink.URL)
	ctx := context.Background()

	out, _, err := runEddy(ctx, "events", "send", l.url+"/hook", "--id", "A-1", "--type", "dev.test.a", "--source", "/t",
		"--data", `{"a":1}`, "--extension", "subject=Euro €", "--extension", "comexamplen=5", "-v")
	if err != nil || !strings.Contains(out, "202 Accepted") || !strings.Contains(out, "subject: Euro €") {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if out, _, err = runEddy(ctx, "events", "send", l.url, "--id", "A-2", "--mode", "structured", "--specversion", "0.3", "--data", "plain text"); err != nil {
		t.Fatalf("send structured 0.3: %v\n%s", err, out)
	}
	out, _, err = runEddy(ctx, "events", "send", l.url, "--id", "A-3", "--source", "")
	if err == nil || !strings.Contains(out, "400 Bad Request") || !strings.Contains(out, `attribute "source": required`) {
		t.Fatalf("send without source: %v\n%s", err, out)
	}
	// The default id is a UUID.
	if out, _, err = runEddy(ctx, "events", "send", l.url, "--type", "dev.test.uuid"); err != nil {
		t.Fatal(err, out)
	}

	printed := l.out.String()
	for _, want := range []string{"# POST /hook answered 202; forwarded: 204 No Content", "id: A-1", "comexamplen: \"5\"", "Mode: structured", "specversion: \"0.3\"",
		"Data: plain text", "answered 400: invalid CloudEvent", "# error required:"} {
		if !strings.Contains(printed, want) {
			t.Errorf("listen output lacks %q:\n%s", want, printed)
		}
	}
	cases, err := conformance.ReadCases(strings.NewReader(printed))
	if err != nil || len(cases) != 4 {
		t.Fatalf("listen output: %d cases, %v", len(cases), err)
	}
	if id := cases[3].Get("id"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("default id %q is not a UUID", id)
	}
	fmu.Lock()
	if strings.Join(forwarded, ",") != "A-1,A-2,"+cases[3].Get("id") {
		t.Errorf("forwarded %v", forwarded)
	}
	fmu.Unlock()

	resp, err := http.Get(l.url + "/history")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dir := t.TempDir()
	got := filepath.Join(dir, "got.yaml")
	os.WriteFile(got, hist, 0o644)
	want := filepath.Join(dir, "want.yaml")
	os.WriteFile(want, []byte("ContextAttributes:\n  id: A-1\n  type: dev.test.a\n  subject: Euro €\n---\nContextAttributes:\n  id: A-2\n  specversion: 0.3\n"), 0o644)
	if out, _, err := runEddy(ctx, "events", "diff", want, got, "--ignore-additions"); err != nil || out != "" {
		t.Errorf("diff --ignore-additions: %v\n%s", err, out)
	}
	out, _, err = runEddy(ctx, "events", "diff", want, got)
	var ec *exitCodeError
	if !errors.As(err, &ec) || ec.ExitCode() != 1 || !strings.Contains(out, "id[A-1] diffs (-want, +got):\n+   specversion: 1.0\n") || !strings.Contains(out, "unexpected: id[A-3]") {
		t.Errorf("diff: %v\n%s", err, out)
	}
	out, _, err = runEddy(ctx, "events", "diff", want, got, "--match", "type,source", "--ignore-additions")
	if !errors.As(err, &ec) || ec.ExitCode() != 1 || !strings.Contains(out, "missing: type[] source[]") {
		t.Errorf("diff --match type,source: %v\n%s", err, out)
	}
	if err := l.stop(t); err != nil {
		t.Errorf("listen ended with %v", err)
	}
}

func TestEventsInvoke(t *testing.T) {
	l := startServer(t, "events", "listen", "--port", "0")
	corpus := filepath.Join("..", "..", "conformance", "testdata", "cloudevents", "conformance", "yaml")
	out, _, err := runEddy(context.Background(), "events", "invoke", l.url, "-f", corpus)
	if err != nil || out != "# sent 15 events to "+l.url+": 15 accepted, 0 failed\n" {
		t.Fatalf("invoke: %v\n%s", err, out)
	}
	out, _, err = runEddy(context.Background(), "events", "invoke", l.url, "-f", filepath.Join(corpus, "v1.yaml"), "-v")
	if err != nil || strings.Count(out, "# event ") != 2 || !strings.Contains(out, "comexampleextension2:") || !strings.Contains(out, ": 202 Accepted\n") {
		t.Fatalf("invoke -v: %v\n%s", err, out)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Ce-Id") == "conformance-0002" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer failing.Close()
	out, _, err = runEddy(context.Background(), "events", "invoke", failing.URL, "-f", filepath.Join(corpus, "v1.0"))
	if err == nil || !strings.Contains(out, "# event 2 (id conformance-0002): 500 Internal Server Error: no") || !strings.Contains(out, "5 accepted, 1 failed") {
		t.Errorf("invoke with a failure: %v\n%s", err, out)
	}
	if _, _, err := runEddy(context.Background(), "events", "invoke", failing.URL); err == nil {
		t.Error("invoke without -f: no error")
	}
}

func TestEventsRaw(t *testing.T) {
	r := startServer(t, "events", "raw", "--port", "0")
	resp, err := http.Post(r.url+"/x?y=1", "text/plain", strings.NewReader("hello raw"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	out := r.out.String()
	for _, want := range []string{"POST /x?y=1 HTTP/1.1\n", "Host: 127.0.0.1:", "Content-Type: text/plain\n", "\n\nhello raw\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("raw output lacks %q:\n%s", want, out)
		}
	}
}

func TestEventsFlagErrors(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"events", "send", "http://127.0.0.1:1", "--mode", "bogus"},
		{"events", "send", "http://127.0.0.1:1", "--specversion", "2.0"},
		{"events", "send", "http://127.0.0.1:1", "--extension", "novalue"},
		{"events", "send"},
		{"events", "listen", "--history", "-1"},
		{"events", "listen", "extra"},
	} {
		if _, _, err := runEddy(ctx, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	var ec *exitCodeError
	for _, args := range [][]string{
		{"events", "diff", "only-one.yaml"},
		{"events", "diff", "/nonexistent/a.yaml", "/nonexistent/b.yaml"},
		{"events", "diff", "-", "-"},
		{"events", "diff", "a", "b", "--no-such-flag"},
	} {
		if _, _, err := runEddy(ctx, args...); !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit status 2", args, err)
		}
	}
}

// TestEventsDiffExitStatus runs the real binary: 0 when the files match, 1 when they
// differ, 2 when an input cannot be read.
func TestEventsDiffExitStatus(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.yaml")
	b := filepath.Join(dir, "b.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(a, []byte("ContextAttributes: {id: 1, type: t}\n"), 0o644)
	os.WriteFile(b, []byte("ContextAttributes: {id: 1, type: u}\n"), 0o644)
	os.WriteFile(bad, []byte("ContextAttributes: [\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{a, a}, 0, ""},
		{[]string{a, b}, 1, "-   type: t\n+   type: u\n"},
		{[]string{a, bad}, 2, "error: "},
		{[]string{a}, 2, "error: diff takes two arguments"},
		{[]string{a, b, "--bogus"}, 2, "error: unknown flag"},
	} {
		cmd := exec.Command(eddyBin, append([]string{"events", "diff"}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(string(out), tc.out) {
			t.Errorf("diff %v: exit %d, want %d\n%s", tc.args, code, tc.code, out)
		}
	}
}
