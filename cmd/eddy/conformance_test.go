package main

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/conformance"
)

func TestVerifyReceiverCommand(t *testing.T) {
	ctx := context.Background()
	good := httptest.NewServer(&conformance.Listener{})
	defer good.Close()
	out, _, err := runEddy(ctx, "conformance", "verify", "receiver", good.URL)
	if err != nil || !strings.Contains(out, "RESULT  CASE") || !strings.Contains(out, "passed, 0 failed, 0 warnings") {
		t.Fatalf("a conforming receiver: %v\n%s", err, out)
	}

	// A receiver that accepts everything fails; the JUnit file says so too.
	var auth []string
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusOK)
	}))
	defer broken.Close()
	junit := filepath.Join(t.TempDir(), "verify.xml")
	out, _, err = runEddy(ctx, "conformance", "verify", "receiver", broken.URL, "--junit", junit, "-v", "-H", "Authorization: Bearer t", "--only", "binary,structured-1.0-missing")
	if err == nil || !strings.Contains(err.Error(), "cases failed") || !strings.Contains(out, "FAIL    binary-1.0-missing-id") || strings.Contains(out, "batch-1.0") {
		t.Fatalf("a receiver that accepts everything: %v\n%s", err, out)
	}
	if !strings.Contains(out, "binary mode, 1.0, no ce-id header") {
		t.Errorf("-v does not print descriptions:\n%s", out)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Failures == 0 || doc.Suites[0].Tests < 10 {
		t.Errorf("JUnit: %v %+v\n%s", err, doc, data)
	}
	for _, a := range auth {
		if a != "Bearer t" {
			t.Fatalf("--header not sent: %q", a)
		}
	}
	if _, _, err := runEddy(ctx, "conformance", "verify", "receiver", broken.URL, "--only", "nothing"); err == nil {
		t.Error("--only matching nothing: no error")
	}
}

func TestVerifyProducerCommand(t *testing.T) {
	p := startServer(t, "conformance", "verify", "producer", "--port", "0", "--count", "2", "--timeout", "30s")
	ctx := context.Background()
	if out, _, err := runEddy(ctx, "events", "send", p.url, "--id", "P-1", "--data", `{"n":1}`); err != nil {
		t.Fatal(err, out)
	}
	out, _, err := runEddy(ctx, "events", "send", p.url, "--id", "P-2", "--mode", "structured", "--extension", "Bad=1")
	if err == nil || !strings.Contains(out, "400 Bad Request") {
		t.Fatalf("invalid event: %v\n%s", err, out)
	}
	err = <-p.done
	close(p.done)
	table := p.out.String()
	if err == nil || !strings.Contains(table, "PASS    event-1") || !strings.Contains(table, "FAIL    event-2") || !strings.Contains(table, "2 cases: 1 passed, 1 failed, 0 warnings") {
		t.Errorf("producer: %v\n%s\n%s", err, table, p.err.String())
	}
	if !strings.Contains(p.err.String(), "FAIL event-2: error name-chars") {
		t.Errorf("progress lines:\n%s", p.err.String())
	}

	// Too few events before the timeout.
	out, _, err = runEddy(ctx, "conformance", "verify", "producer", "--port", "0", "--count", "1", "--timeout", "100ms")
	if err == nil || !strings.Contains(out, "FAIL    event-count") {
		t.Errorf("timeout: %v\n%s", err, out)
	}
}
