package dispatcher

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/eddyplatform/eddy/bus"
)

// Extensions added to an event sent to a dead-letter sink, as Knative does.
const (
	// ErrorDestExtension is the URL whose delivery failed: the subscriber's,
	// or the reply destination's if forwarding the reply failed.
	ErrorDestExtension = "knativeerrordest"
	// ErrorCodeExtension is the last HTTP status the failed destination
	// answered; absent if it never answered (network error, timeout).
	ErrorCodeExtension = "knativeerrorcode"
	// ErrorDataExtension is the base64 of the first MaxErrorDataBytes of
	// the last response body (or of the error, if there was no response).
	ErrorDataExtension = "knativeerrordata"
	// MaxErrorDataBytes caps the bytes of ErrorDataExtension before base64,
	// as Knative's KnativeErrorDataExtensionMaxLength.
	MaxErrorDataBytes = 1024
)

// W3C Trace Context: the CloudEvents distributed-tracing extension
// attributes, also sent as the HTTP headers of the same names.
const (
	traceparent = "traceparent"
	tracestate  = "tracestate"
)

// maxDrain is how much of a response body is read to keep its connection
// alive; a longer body is abandoned with its connection.
const maxDrain = 64 << 10

// result is the outcome of one attempt, or of a destination's last attempt.
type result struct {
	ok         bool   // 2xx
	aborted    bool   // the consumer stopped or the delivery expired: settle by Nack
	retry      bool   // a failure worth retrying
	status     int    // HTTP status, 0 if none
	retryAfter string // Retry-After header of a 429 or 503
	data       []byte // start of the failure's body, or the error text
	err        error  // transport or reply error
	reply      *event.Event
	replyTo    *target // the target whose reply URL the reply goes to
	dest       string  // redacted URL of the attempt
	attempts   int
}

func (r *result) what() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("status %d", r.status)
}

func (r *result) reason() string {
	if r.retry {
		return fmt.Sprintf("retries exhausted after %d attempts: %s", r.attempts, r.what())
	}
	return "not retriable: " + r.what()
}

// job is the handling of one delivery. It is used by one goroutine.
type job struct {
	c        *Consumer
	dl       bus.Delivery
	ev       *event.Event
	ext      bus.DeadlineExtender // nil if the deadline cannot or need not move
	deadline time.Time            // the delivery's deadline as last set
}

// handle settles one delivery. It runs in its own goroutine.
func (c *Consumer) handle(dl bus.Delivery) {
	defer c.jobs.Done()
	t := c.target.Load()
	j := &job{c: c, dl: dl, ev: dl.Event()}
	if t.sub.Filter != nil && !c.match(t.sub.Filter, j.ev) {
		c.m.filtered.Inc()
		j.ack()
		return
	}
	if c.isStopping() {
		j.abort()
		return
	}
	if ext, ok := dl.(bus.DeadlineExtender); ok {
		if dd := dl.Deadline(); !dd.IsZero() {
			j.ext, j.deadline = ext, dd
		}
	}
	start := time.Now()
	if o, ok := j.run(t); ok {
		c.m.latency[o].Observe(time.Since(start).Seconds())
	}
}

// match applies a filter; a panic is logged and counts as no match.
func (c *Consumer) match(f func(*event.Event) bool, ev *event.Event) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("dispatcher: filter panicked; event skipped", "event_id", ev.ID(), "panic", p)
			ok = false
		}
	}()
	return f(ev)
}

// run delivers the event and settles the delivery. ok is false if the
// delivery was abandoned (nacked because the consumer stops, or expired).
func (j *job) run(t *target) (o outcome, ok bool) {
	var r result
	if t.urls[roleSubscriber] != nil {
		r = j.send(roleSubscriber, j.ev, t)
		if r.ok && r.reply != nil {
			reply := r.reply
			inheritTrace(reply, j.ev)
			if r = j.send(roleReply, reply, r.replyTo); r.ok {
				j.c.m.replies.Inc()
			}
		}
	} else {
		r = j.send(roleReply, j.ev, t)
	}
	switch {
	case r.aborted:
		j.abort()
		return 0, false
	case r.ok:
		j.c.m.delivered.Inc()
		j.ack()
		return outcomeDelivered, true
	}
	return j.deadLetter(&r)
}

// inheritTrace gives a reply without trace context the original's.
func inheritTrace(reply, orig *event.Event) {
	ext := reply.Extensions()
	if _, ok := ext[traceparent]; ok {
		return
	}
	oext := orig.Extensions()
	for _, k := range []string{traceparent, tracestate} {
		if v, ok := oext[k]; ok {
			reply.SetExtension(k, v)
		}
	}
}

// send delivers ev to the destination of role r, retrying as the policy
// says. Each attempt uses the newest target's URL for r (fb's if the newest
// has none) and the newest policy.
func (j *job) send(r role, ev *event.Event, fb *target) result {
	c := j.c
	for n := 0; ; n++ {
		cur := c.target.Load()
		if cur.urls[r] != nil {
			fb = cur
		}
		if !j.ensure(0, cur.timeout) {
			return result{aborted: true}
		}
		parse := r == roleSubscriber && cur.urls[roleReply] != nil
		t0 := time.Now()
		res := c.attempt(fb.urls[r], ev, r, parse, cur.timeout)
		if res.aborted {
			return res
		}
		c.m.attempt[r].Observe(time.Since(t0).Seconds())
		res.dest, res.attempts = fb.dest[r], n+1
		if parse {
			res.replyTo = cur
		}
		if res.ok {
			return res
		}
		c.m.failed[r].Inc()
		if c.log.Enabled(context.Background(), slog.LevelDebug) {
			c.log.Debug("dispatcher: attempt failed", "destination", res.dest, "role", r.String(),
				"attempt", n+1, "event_id", ev.ID(), "status", res.status, "err", res.err, "retriable", res.retry)
		}
		if !res.retry || n >= cur.sub.Policy.Retry {
			return res
		}
		wait := cur.sub.Policy.retryDelay(n+1, res.status, res.retryAfter, time.Now())
		if !j.ensure(wait, cur.timeout) || !j.sleep(wait) {
			return result{aborted: true}
		}
		c.m.retried[r].Inc()
	}
}

// attempt makes one HTTP POST of ev to u in binary mode. parse asks for a
// reply event in a 200 answer.
func (c *Consumer) attempt(u *url.URL, ev *event.Event, r role, parse bool, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	uc := *u
	req := (&http.Request{
		Method:     http.MethodPost,
		URL:        &uc,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, 8+len(ev.Extensions())),
		Host:       u.Host,
	}).WithContext(ctx)
	if err := writeBinary(ctx, req, ev); err != nil {
		// The event cannot be encoded: no attempt will ever succeed.
		err = fmt.Errorf("encoding the event: %w", err)
		return result{err: err, data: []byte(err.Error())}
	}
	ext := ev.Extensions()
	for _, k := range []string{traceparent, tracestate} {
		if v, ok := ext[k]; ok {
			if s, err := types.ToString(v); err == nil && s != "" {
				req.Header[k] = []string{s} // W3C headers are lower case
			}
		}
	}
	if r == roleSubscriber {
		req.Header["Prefer"] = []string{"reply"}
	}
	resp, err := c.d.client.Do(req)
	if err != nil {
		if c.ctx.Err() != nil {
			return result{aborted: true}
		}
		return result{retry: true, err: err, data: []byte("dispatch error: " + err.Error())}
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	if status >= 200 && status < 300 {
		if parse && status == http.StatusOK {
			return c.readReply(ctx, resp)
		}
		drain(resp.Body)
		return result{ok: true, status: status}
	}
	res := result{status: status, retry: retryableStatus(status)}
	buf := make([]byte, MaxErrorDataBytes)
	n, _ := io.ReadFull(resp.Body, buf)
	res.data = buf[:n]
	drain(resp.Body)
	if res.retry && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		res.retryAfter = resp.Header.Get("Retry-After")
	}
	return res
}

// writeBinary writes ev into req in CloudEvents HTTP binary mode. Events of
// spec 1.0, nearly all of them, take a direct path that does the same as
// cehttp.WriteRequest at a fraction of its cost (it validates every
// attribute again through reflection); others go through the SDK.
func writeBinary(ctx context.Context, req *http.Request, ev *event.Event) error {
	ec, ok := ev.Context.(*event.EventContextV1)
	if !ok {
		return cehttp.WriteRequest(ctx, binding.ToMessage(ev), req)
	}
	h := req.Header
	// One backing array for the header values: one allocation, not one
	// per header.
	vals := make([]string, 0, 8+len(ec.Extensions))
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Ce-Specversion", event.CloudEventsVersionV1)
	set("Ce-Id", ec.ID)
	set("Ce-Source", ec.Source.String())
	set("Ce-Type", ec.Type)
	if ec.DataContentType != nil {
		set("Content-Type", *ec.DataContentType)
	}
	if ec.Subject != nil {
		set("Ce-Subject", *ec.Subject)
	}
	if ec.Time != nil {
		set("Ce-Time", types.FormatTime(ec.Time.Time))
	}
	if ec.DataSchema != nil {
		set("Ce-Dataschema", ec.DataSchema.String())
	}
	for k, v := range ec.Extensions {
		if k == "" {
			continue
		}
		s, ok := v.(string)
		if !ok {
			var err error
			if s, err = types.Format(v); err != nil {
				return fmt.Errorf("extension %s: %w", k, err)
			}
		}
		set(extensionHeader(k), s)
	}
	if data := ev.DataEncoded; len(data) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.ContentLength = int64(len(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	return nil
}

// knownExtensionHeaders spares the common extensions a string concatenation.
var knownExtensionHeaders = map[string]string{
	traceparent:          "Ce-Traceparent",
	tracestate:           "Ce-Tracestate",
	"partitionkey":       "Ce-Partitionkey",
	"knativearrivaltime": "Ce-Knativearrivaltime",
	ErrorDestExtension:   "Ce-Knativeerrordest",
	ErrorCodeExtension:   "Ce-Knativeerrorcode",
	ErrorDataExtension:   "Ce-Knativeerrordata",
}

// extensionHeader is the binary-mode header of extension name, as the SDK
// names it: "Ce-" and the name with its first letter upper-cased.
func extensionHeader(name string) string {
	if h, ok := knownExtensionHeaders[name]; ok {
		return h
	}
	return "Ce-" + strings.ToUpper(name[:1]) + name[1:]
}

// readReply reads the event a subscriber's 200 answer may carry. A body that
// is not a CloudEvent (no ce-specversion header, no structured content
// type) is just success; a CloudEvent that cannot be read or is invalid is a
// failure without retry (the subscriber did its work; asking again would do
// it twice).
func (c *Consumer) readReply(ctx context.Context, resp *http.Response) result {
	if cehttp.NewMessage(resp.Header, nil).ReadEncoding() == binding.EncodingUnknown {
		drain(resp.Body)
		return result{ok: true, status: resp.StatusCode}
	}
	limit := c.d.cfg.MaxReplyBytes
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if c.ctx.Err() != nil {
			return result{aborted: true}
		}
		err = fmt.Errorf("reading the reply: %w", err)
		return result{status: resp.StatusCode, retry: true, err: err, data: []byte(err.Error())}
	}
	fail := func(err error) result {
		return result{status: resp.StatusCode, err: err, data: body[:min(len(body), MaxErrorDataBytes)]}
	}
	if int64(len(body)) > limit {
		return fail(fmt.Errorf("reply larger than %d bytes", limit))
	}
	msg := cehttp.NewMessage(resp.Header, io.NopCloser(bytes.NewReader(body)))
	reply, err := binding.ToEvent(ctx, msg)
	if err == nil {
		err = reply.Validate()
	}
	if err != nil {
		return fail(fmt.Errorf("malformed reply: %w", err))
	}
	return result{ok: true, status: resp.StatusCode, reply: reply}
}

// drain reads what is left of a body so that its connection can be reused.
func drain(body io.Reader) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
}

// deadLetter sends the original event to the dead-letter sink after r, the
// failure of the destination r.dest, and settles the delivery: acked if the
// sink took it, nacked after RedeliveryDelay if not, acked and dropped if
// there is no sink.
func (j *job) deadLetter(r *result) (outcome, bool) {
	c := j.c
	cur := c.target.Load()
	if cur.urls[roleDeadLetter] == nil {
		return j.drop(r), true
	}
	dle := j.ev.Clone()
	for _, k := range []string{ErrorDestExtension, ErrorCodeExtension, ErrorDataExtension} {
		dle.SetExtension(k, nil)
	}
	dle.SetExtension(ErrorDestExtension, r.dest)
	if r.status > 0 {
		dle.SetExtension(ErrorCodeExtension, r.status)
	}
	if len(r.data) > 0 {
		dle.SetExtension(ErrorDataExtension, base64.StdEncoding.EncodeToString(r.data))
	}
	dr := j.send(roleDeadLetter, &dle, cur)
	switch {
	case dr.aborted:
		j.abort()
		return 0, false
	case dr.ok:
		c.m.deadLettered.Inc()
		j.ack()
		return outcomeDeadLettered, true
	}
	c.m.nacked.Inc()
	delay := c.redeliveryDelay(j.dl.Attempt())
	c.log.Warn("dispatcher: dead-letter sink failed too; the event will be delivered again",
		"event_id", j.ev.ID(), "event_type", j.ev.Type(), "event_source", j.ev.Source(),
		"failed_destination", r.dest, "failure", r.what(),
		"dead_letter_sink", dr.dest, "dead_letter_failure", dr.what(), "redelivery_in", delay)
	if delay > 0 && j.ensure(delay, cur.timeout) {
		j.sleep(delay)
	}
	if err := j.dl.Nack(); err != nil {
		c.log.Debug("dispatcher: nack failed; the bus will deliver the event again", "event_id", j.ev.ID(), "err", err)
	}
	return outcomeNacked, true
}

// redeliveryDelay is how long to hold a delivery before nacking it after
// its attempt-th delivery failed everywhere.
func (c *Consumer) redeliveryDelay(attempt int) time.Duration {
	base, top := c.d.cfg.RedeliveryDelay, c.d.cfg.MaxRedeliveryDelay
	if base <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < top; i++ {
		d *= 2
	}
	return min(d, top)
}

// drop gives up an undeliverable event: counted, logged at warn (never its
// data), reported to Config.OnDrop, and acknowledged.
func (j *job) drop(r *result) outcome {
	c := j.c
	t := c.target.Load()
	reason := r.reason()
	c.m.dropped.Inc()
	c.log.Warn("dispatcher: event dropped: undeliverable and no dead-letter sink",
		"event_id", j.ev.ID(), "event_type", j.ev.Type(), "event_source", j.ev.Source(),
		"destination", r.dest, "status", r.status, "attempts", r.attempts, "reason", reason)
	if f := c.d.cfg.OnDrop; f != nil {
		f(Dropped{
			Kind: t.sub.Kind, Namespace: t.sub.Namespace, Name: t.sub.Name,
			EventID: j.ev.ID(), EventType: j.ev.Type(), EventSource: j.ev.Source(),
			Destination: r.dest, StatusCode: r.status, Attempts: r.attempts, Reason: reason,
		})
	}
	j.ack()
	return outcomeDropped
}

func (j *job) ack() {
	if err := j.dl.Ack(); err != nil {
		j.c.log.Debug("dispatcher: ack failed; the bus will deliver the event again", "event_id", j.ev.ID(), "err", err)
	}
}

// abort hands the delivery back to the bus (a no-op if it already expired).
func (j *job) abort() {
	if err := j.dl.Nack(); err != nil {
		j.c.log.Debug("dispatcher: nack failed; the bus will deliver the event again", "event_id", j.ev.ID(), "err", err)
	}
}

// ensure makes the delivery's deadline cover a wait of wait and then an
// attempt of timeout, moving it forward if the bus allows. It reports false
// if the deadline could not be moved (the delivery expired and was handed
// out again, or the bus is closing): the job must then give up.
func (j *job) ensure(wait, timeout time.Duration) bool {
	if j.ext == nil {
		return true
	}
	need := wait + timeout + leaseMargin
	now := time.Now()
	if j.deadline.Sub(now) >= need {
		return true
	}
	lease := need + timeout + leaseMargin
	if err := j.ext.ExtendDeadline(lease); err != nil {
		j.c.log.Debug("dispatcher: cannot extend the ack deadline; leaving the event to its redelivery",
			"event_id", j.ev.ID(), "err", err)
		return false
	}
	j.deadline = now.Add(lease)
	return true
}

// sleep waits d; false if the consumer began stopping first.
func (j *job) sleep(d time.Duration) bool {
	if d <= 0 {
		return !j.c.isStopping()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-j.c.stopping:
		return false
	case <-j.c.ctx.Done():
		return false
	}
}
