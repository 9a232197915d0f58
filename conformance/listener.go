package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Judgement is the verdict on one HTTP message that should carry CloudEvents.
type Judgement struct {
	// Cases are the events as read (see CasesFromHTTP). When the message could not be read
	// as events, one case holds what arrived, with a comment saying why.
	Cases []Case
	// Violations are what ValidateHTTP found in the raw message, errors and warnings.
	Violations Violations
	// Err is nil for a valid message and otherwise says why it is invalid, suitable as the
	// body of a 400 answer: the conformance.Reason of the decoded event, else the raw
	// validators' errors, else why sdk-go could not decode it.
	Err error
}

// JudgeHTTP reads and judges an HTTP message in any content mode. A message is invalid when
// ValidateHTTP finds an error in the raw message, when sdk-go cannot decode it, or when
// Reason rejects a decoded event. The violations are also put into the cases' Comments, so
// that printed cases show them.
func JudgeHTTP(h http.Header, body []byte) Judgement {
	var j Judgement
	j.Violations = Violations(ValidateHTTP(h, body))
	cases, readErr := CasesFromHTTP(h, body)
	if readErr != nil {
		c := Case{Mode: DetectMode(h.Get("Content-Type")).String()}
		setBody(&c, body)
		c.ContextAttributes.DataContentType = h.Get("Content-Type")
		c.Comments = []string{"could not read the events: " + readErr.Error()}
		cases = []Case{c}
	}

	events, sdkErr := decodeSDK(h, body)
	switch {
	case sdkErr != nil && len(j.Violations.Errors()) > 0:
		j.Err = j.Violations.Err()
	case sdkErr != nil:
		j.Err = fmt.Errorf("invalid CloudEvent: %v", sdkErr)
	default:
		for i, ev := range events {
			if err := Reason(ev); err != nil {
				if len(events) > 1 {
					err = fmt.Errorf("batch element %d: %w", i+1, err)
				}
				j.Err = err
				break
			}
		}
		if j.Err == nil {
			j.Err = j.Violations.Err()
		}
	}
	var notes []string
	for _, v := range j.Violations {
		notes = append(notes, v.Severity.String()+" "+string(v.Rule)+": "+v.Message)
	}
	if j.Err != nil && len(j.Violations.Errors()) == 0 {
		notes = append(notes, "error: "+j.Err.Error())
	}
	if len(notes) > 0 {
		for i := range cases {
			cases[i].Comments = append(cases[i].Comments, notes...)
		}
	}
	j.Cases = cases
	return j
}

// decodeSDK decodes the events with sdk-go, as a typical receiver would, and validates them.
func decodeSDK(h http.Header, body []byte) (events []*event.Event, err error) {
	defer func() {
		// sdk-go v2.16.2 panics on some hostile JSON (see the package documentation).
		if p := recover(); p != nil {
			events, err = nil, fmt.Errorf("sdk-go panicked decoding the event: %v", p)
		}
	}()
	canon := http.Header{}
	for k, vs := range h {
		canon[http.CanonicalHeaderKey(k)] = vs
	}
	msg := cehttp.NewMessage(canon, io.NopCloser(bytes.NewReader(body)))
	defer msg.Finish(nil)
	ctx := context.Background()
	// cehttp.IsHTTPBatch wants the exact media type, without parameters such as charset;
	// the binding matches the prefix (HTTP Protocol Binding §3).
	if DetectMode(canon.Get("Content-Type")) == ModeBatch {
		batch, err := binding.ToEvents(ctx, msg, msg.BodyReader)
		if err != nil {
			return nil, err
		}
		for i := range batch {
			events = append(events, &batch[i])
		}
	} else {
		if msg.ReadEncoding() == binding.EncodingUnknown {
			return nil, fmt.Errorf("not a CloudEvent: binary mode needs ce-specversion, ce-id, ce-source and ce-type headers; structured mode needs Content-Type: application/cloudevents+json")
		}
		ev, err := binding.ToEvent(ctx, msg)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	for i, ev := range events {
		if err := ev.Validate(); err != nil {
			if len(events) > 1 {
				return nil, fmt.Errorf("batch element %d: %w", i+1, err)
			}
			return nil, err
		}
	}
	return events, nil
}

// Received is what a Listener saw in one request.
type Received struct {
	// Request is the request as it arrived.
	Request *RawRequest
	Judgement
	// Status is the code the Listener answered.
	Status int
	// Forwarded is the status line of the forwarded request ("" when not forwarded);
	// ForwardErr says why forwarding failed.
	Forwarded  string
	ForwardErr error
}

// Listener is the http.Handler of `eddy events listen`: it accepts CloudEvents in any HTTP
// content mode at any path and answers 202 Accepted for a valid message, and 400 with the
// reason (see JudgeHTTP) for an invalid one. It keeps the last HistorySize events for
// GET /history, which returns them as YAML documents separated by "---" (each with the
// validators' findings as comments). Valid messages are forwarded as they arrived (same
// headers and body) to Forward when it is set. OPTIONS answers the CloudEvents webhook
// abuse-protection handshake.
type Listener struct {
	// HistorySize is how many events to keep for History and GET /history (0: none).
	HistorySize int
	// Forward, when not empty, is where valid messages are sent on.
	Forward string
	// Client sends the forwarded requests (nil: http.DefaultClient).
	Client *http.Client
	// MaxBytes bounds a request body (0: 4 MiB).
	MaxBytes int64
	// OnReceive, when not nil, is called for each POST, after the forward and before the
	// answer. Calls are serialised.
	OnReceive func(*Received)

	mu      sync.Mutex
	history []Case
}

// ServeHTTP implements http.Handler.
func (l *Listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if strings.TrimSuffix(r.URL.Path, "/") != "/history" {
			http.Error(w, "POST CloudEvents here; GET /history returns the last events received", http.StatusNotFound)
			return
		}
		var b bytes.Buffer
		if err := WriteCases(&b, l.History()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(b.Bytes())
		return
	case http.MethodOptions:
		if origin := r.Header.Get("WebHook-Request-Origin"); origin != "" {
			w.Header().Set("WebHook-Allowed-Origin", origin)
			w.Header().Set("WebHook-Allowed-Rate", "*")
		}
		w.Header().Set("Allow", "POST, GET, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost, http.MethodPut:
	default:
		w.Header().Set("Allow", "POST, GET, OPTIONS")
		http.Error(w, "method not allowed: POST CloudEvents", http.StatusMethodNotAllowed)
		return
	}
	limit := l.MaxBytes
	if limit <= 0 {
		limit = 4 << 20
	}
	raw, err := ReadRawRequest(r, limit)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	rec := &Received{Request: raw, Judgement: JudgeHTTP(raw.Header, raw.Body), Status: http.StatusAccepted}
	if rec.Err != nil {
		rec.Status = http.StatusBadRequest
	} else if l.Forward != "" {
		rec.Forwarded, rec.ForwardErr = l.forward(r.Context(), raw)
	}
	l.mu.Lock()
	if l.HistorySize > 0 {
		l.history = append(l.history, rec.Cases...)
		if n := len(l.history) - l.HistorySize; n > 0 {
			l.history = append([]Case(nil), l.history[n:]...)
		}
	}
	if l.OnReceive != nil {
		l.OnReceive(rec)
	}
	l.mu.Unlock()
	if rec.Err != nil {
		http.Error(w, rec.Err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// History returns the kept events, oldest first.
func (l *Listener) History() []Case {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Case(nil), l.history...)
}

func (l *Listener) forward(ctx context.Context, raw *RawRequest) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.Forward, bytes.NewReader(raw.Body))
	if err != nil {
		return "", err
	}
	for k, vs := range raw.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Accept-Encoding", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
			continue
		}
		req.Header[k] = vs
	}
	client := l.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return resp.Status, fmt.Errorf("%s answered %s", l.Forward, resp.Status)
	}
	return resp.Status, nil
}
