package platformconf

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Target is the Eddy platform a suite runs against.
type Target struct {
	// Bus names the bus the platform's channels and brokers run on by default ("stub",
	// "rabbitmq", "nats", "kafka", "pubsub"). It selects the known failures that apply and
	// appears in messages. Required.
	Bus string

	// Start starts a platform and returns how to reach it; the platform must stop when t's
	// cleanups run. Run calls it once for the platform most cases share (each case works in a
	// namespace of its own), and again for each case that needs a platform to itself, such as
	// the restart cases. Required.
	Start func(t *testing.T) *Platform

	// Parallel is how many cases run at once on the shared platform (default 4).
	Parallel int

	// Timeout bounds each wait for a condition or a delivery (default 30s).
	Timeout time.Duration

	// Quiet is how long a case waits to see that nothing more arrives (default 500ms).
	Quiet time.Duration
}

// Platform is a running Eddy as the suite reaches it: through its API, as a user would, and
// through the addresses its channels and brokers publish.
type Platform struct {
	// API is the control-plane API's base URL, such as http://127.0.0.1:7070.
	API string
	// Token is the API's bearer token. It is never logged.
	Token string
	// Ingress is the data plane's base URL, where channel and broker addresses live.
	Ingress string
	// Restart stops the platform and starts it again over the same store and bus, and
	// returns how to reach it now (ports may change). The restarted platform must stop when
	// the t given to Start ends (not earlier: the case cleans up through it). Nil when the
	// target cannot restart: the cases that need it then skip, saying so.
	Restart func(t *testing.T) *Platform
}

// Defaults of Target's optional fields.
const (
	DefaultParallel = 4
	DefaultTimeout  = 30 * time.Second
	DefaultQuiet    = 500 * time.Millisecond
)

// caseFunc is the body of one case.
type caseFunc func(t *caseT)

// testCase is a named case. Its name starts with the number of the requirement it checks, as
// knative-specs.md numbers them ("R4/…", "R28.5/…").
type testCase struct {
	name string
	run  caseFunc
}

// suite is one Run.
type suite struct {
	target Target
	shared *Platform
	runID  string

	mu  sync.Mutex
	seq int // namespaces handed out
}

// Run runs the conformance suite against the platform target starts. Every case is a subtest
// named after the requirement it checks. A case listed in KnownFailures for the target's bus
// still runs: if it fails, it is reported as skipped with the reason and what it observed; if
// it passes, the test fails and asks for the entry to be removed.
func Run(t *testing.T, target Target) {
	if target.Bus == "" || target.Start == nil {
		t.Fatal("platformconf: Target.Bus and Target.Start are required")
	}
	if target.Parallel <= 0 {
		target.Parallel = DefaultParallel
	}
	if target.Timeout <= 0 {
		target.Timeout = DefaultTimeout
	}
	if target.Quiet <= 0 {
		target.Quiet = DefaultQuiet
	}
	s := &suite{target: target, runID: randomHex(3)}
	s.shared = target.Start(t)
	if s.shared == nil || s.shared.API == "" {
		t.Fatal("platformconf: Target.Start returned no platform")
	}
	cases := allCases()
	checkKnownFailures(t, cases)
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("platformconf: two cases named %s", c.name)
		}
		names[c.name] = true
	}

	sem := make(chan struct{}, target.Parallel)
	var wg sync.WaitGroup
	for _, c := range cases {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(c.name, func(tt *testing.T) { s.runCase(tt, c.name, nil, c.run) })
		}()
	}
	wg.Wait()

}

// checkKnownFailures fails the test for an entry of KnownFailures that names no case (nor a
// subtest of one): the case was renamed or removed.
func checkKnownFailures(t *testing.T, cases []testCase) {
	for _, key := range sortedKeys(KnownFailures) {
		found := false
		for _, c := range cases {
			if key == c.name || strings.HasPrefix(key, c.name+"/") {
				found = true
			}
		}
		if !found {
			t.Errorf("KnownFailures[%q] names no case of the suite: correct or remove the entry", key)
		}
	}
}

// caseT is what a case reports to and works with: a testing.T whose failures are recorded rather
// than reported when the case is a known failure, a namespace of the case's own on the
// platform, and the helpers the cases share. A case must report only through its methods
// (Errorf, Fatalf, …), from the goroutine running it.
type caseT struct {
	*testing.T
	s    *suite
	name string // relative to Run's test: "R4/Channel/404"
	env  *env

	known *knownRun // non-nil when this case, or one it is part of, is a known failure
	own   []string  // failures recorded here (known failures only)
	root  bool      // this T is the one the known failure names
}

// knownRun collects the failures of a known-failure case and of its subtests.
type knownRun struct {
	key    string
	reason string
	mu     sync.Mutex
	fails  []string
}

func (k *knownRun) add(msg string) {
	k.mu.Lock()
	k.fails = append(k.fails, msg)
	k.mu.Unlock()
}

func (k *knownRun) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.fails)
}

// abort unwinds a known-failure case that called Fatalf.
type abort struct{}

// runCase runs one case (or subtest) body as tt, with the known-failure bookkeeping.
func (s *suite) runCase(tt *testing.T, name string, parent *caseT, body caseFunc) {
	ct := &caseT{T: tt, s: s, name: name}
	if parent != nil {
		ct.env, ct.known = parent.env, parent.known
	}
	if ct.known == nil {
		if kf, ok := KnownFailures[name]; ok && kf.appliesTo(s.target.Bus) {
			ct.known, ct.root = &knownRun{key: name, reason: kf.Reason}, true
		}
	}
	if ct.env == nil && s.shared != nil {
		ct.env = s.newEnv(ct, s.shared)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(abort); !ok {
					panic(r)
				}
			}
		}()
		body(ct)
	}()
	if ct.known == nil || tt.Failed() {
		return
	}
	switch {
	case ct.root && ct.known.count() == 0:
		tt.Errorf("%s is listed in KnownFailures (%q) but passes on the %s bus now: remove it from known.go",
			name, ct.known.reason, s.target.Bus)
	case len(ct.own) > 0 || ct.root:
		ct.known.mu.Lock()
		observed := strings.Join(ct.known.fails, "\n\t")
		ct.known.mu.Unlock()
		if !ct.root {
			observed = strings.Join(ct.own, "\n\t")
		}
		tt.Skipf("KNOWN FAILURE (KnownFailures[%q]): %s\n\tobserved:\n\t%s", ct.known.key, ct.known.reason, observed)
	}
}

// Run runs f as a subtest of the case, sharing its namespace. Its name is part of the
// known-failure key: "R4/Channel" + "404".
func (t *caseT) Run(name string, f func(t *caseT)) bool {
	t.Helper()
	return t.T.Run(name, func(tt *testing.T) { t.s.runCase(tt, t.name+"/"+name, t, f) })
}

// Errorf reports a failure and goes on.
func (t *caseT) Errorf(format string, args ...any) {
	t.Helper()
	if t.known == nil {
		t.T.Errorf(format, args...)
		return
	}
	msg := fmt.Sprintf(format, args...)
	t.own = append(t.own, msg)
	t.known.add(msg)
	t.Logf("known failure: %s", msg)
}

// Error reports a failure and goes on.
func (t *caseT) Error(args ...any) {
	t.Helper()
	t.Errorf("%s", fmt.Sprint(args...))
}

// Fatalf reports a failure and ends the case.
func (t *caseT) Fatalf(format string, args ...any) {
	t.Helper()
	if t.known == nil {
		t.T.Fatalf(format, args...)
	}
	t.Errorf(format, args...)
	panic(abort{})
}

// Fatal reports a failure and ends the case.
func (t *caseT) Fatal(args ...any) {
	t.Helper()
	t.Fatalf("%s", fmt.Sprint(args...))
}

// FailNow ends the case as failed.
func (t *caseT) FailNow() {
	t.Helper()
	t.Fatalf("FailNow")
}

// Timeout is the target's bound on each wait.
func (t *caseT) Timeout() time.Duration { return t.s.target.Timeout }

// Quiet is how long the case waits to see that nothing more happens.
func (t *caseT) Quiet() time.Duration { return t.s.target.Quiet }

// eventually polls cond every 20ms until it holds, or fails the case after the target's
// timeout, saying what it waited for and what cond last reported.
func (t *caseT) eventually(what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(t.Timeout())
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %s)", t.Timeout(), what, last)
		}
		<-tick.C
	}
}

// newNamespace returns a fresh namespace name for a case.
func (s *suite) newNamespace() string {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return fmt.Sprintf("conf-%s-%d", s.runID, n)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// httpClient sends the suite's requests: no redirects followed, bounded.
var httpClient = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
