package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ProducerVerifier is the http.Handler of `eddy conformance verify producer`: it judges
// every message a producer POSTs to it with ValidateHTTP on the raw request, records a
// Result per message (PASS: no violation; WARN: warnings only; FAIL: an error), and answers
// 202 Accepted, or 400 with the violations for an invalid message.
type ProducerVerifier struct {
	// Count, when positive, is how many messages to judge; Done is closed after that many.
	Count int
	// MaxBytes bounds a request body (0: 4 MiB).
	MaxBytes int64
	// OnResult, when not nil, is called with each result as it is made. Calls are serialised.
	OnResult func(Result)

	once    sync.Once
	mu      sync.Mutex
	done    chan struct{}
	results []Result
	start   time.Time
}

func (p *ProducerVerifier) init() {
	p.once.Do(func() {
		p.done = make(chan struct{})
		p.start = time.Now()
	})
}

// Done is closed when Count messages have been judged.
func (p *ProducerVerifier) Done() <-chan struct{} {
	p.init()
	return p.done
}

// ServeHTTP implements http.Handler.
func (p *ProducerVerifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.init()
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST")
		http.Error(w, "send CloudEvents with POST", http.StatusMethodNotAllowed)
		return
	}
	limit := p.MaxBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	t0 := time.Now()
	raw, err := ReadRawRequest(r, limit)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	vs := Violations(ValidateHTTP(raw.Header, raw.Body))

	p.mu.Lock()
	if p.Count > 0 && len(p.results) >= p.Count {
		p.mu.Unlock()
		http.Error(w, "the verifier has judged all the events it was asked to", http.StatusServiceUnavailable)
		return
	}
	n := len(p.results) + 1
	res := producerResult(n, raw, vs)
	res.Duration = time.Since(t0)
	p.results = append(p.results, res)
	if p.OnResult != nil {
		p.OnResult(res)
	}
	if p.Count > 0 && len(p.results) == p.Count {
		close(p.done)
	}
	p.mu.Unlock()

	if err := vs.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func producerResult(n int, raw *RawRequest, vs Violations) Result {
	ct := raw.Header.Get("Content-Type")
	mode := DetectMode(ct)
	desc := fmt.Sprintf("%s mode", mode)
	id, typ, sv := "", "", ""
	if cases, err := CasesFromHTTP(raw.Header, raw.Body); err == nil && len(cases) > 0 {
		id, typ, sv = cases[0].Get("id"), cases[0].Get("type"), cases[0].Get("specversion")
		if len(cases) > 1 {
			desc += fmt.Sprintf(", %d events", len(cases))
		}
	}
	if sv != "" {
		desc += ", specversion " + sv
	}
	if typ != "" {
		desc += ", type " + typ
	}
	if id != "" {
		desc += ", id " + id
	}
	res := Result{
		ID:          fmt.Sprintf("event-%d", n),
		Description: desc + fmt.Sprintf(" (%s %s)", raw.Method, raw.URL),
		Section:     "HTTP Protocol Binding 1.0 §3",
		Expectation: "a valid CloudEvent: no error-severity violation",
	}
	if len(vs) > 0 {
		res.Section = vs[0].Section
	}
	var msgs []string
	for _, v := range vs {
		msgs = append(msgs, v.Severity.String()+" "+string(v.Rule)+": "+v.Message)
	}
	switch {
	case len(vs.Errors()) > 0:
		res.Verdict = Fail
	case len(vs) > 0:
		res.Verdict = Warn
	default:
		res.Verdict, msgs = Pass, []string{"valid " + desc}
	}
	res.Why = strings.Join(msgs, "; ")
	return res
}

// Report returns the results so far. When Count is positive and fewer messages arrived, a
// FAIL result says so; so does a run in which no message arrived at all.
func (p *ProducerVerifier) Report(target string) *Report {
	p.init()
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := &Report{Name: "eddy conformance verify producer", Target: target, Results: append([]Result(nil), p.results...), Duration: time.Since(p.start)}
	switch {
	case p.Count > 0 && len(p.results) < p.Count:
		rep.Results = append(rep.Results, Result{
			ID: "event-count", Description: fmt.Sprintf("the producer was to send %d events", p.Count), Section: "-",
			Expectation: fmt.Sprintf("%d events before the timeout", p.Count), Verdict: Fail,
			Why: fmt.Sprintf("received %d of %d events before the timeout", len(p.results), p.Count),
		})
	case len(p.results) == 0:
		rep.Results = append(rep.Results, Result{
			ID: "event-count", Description: "the producer was to send events", Section: "-",
			Expectation: "at least one event before the timeout", Verdict: Fail, Why: "no event arrived before the timeout",
		})
	}
	return rep
}
