package dispatcher

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BackoffPolicy says how the delay between retries grows, as Knative's
// delivery.backoffPolicy.
type BackoffPolicy string

const (
	// BackoffExponential waits BackoffDelay·2^n before retry n (n = 1 for
	// the first retry). It is what an empty BackoffPolicy means.
	BackoffExponential BackoffPolicy = "exponential"
	// BackoffLinear waits BackoffDelay·n before retry n.
	BackoffLinear BackoffPolicy = "linear"
)

// Policy is a parsed Knative DeliverySpec: how often and how patiently one
// destination (subscriber, reply or dead-letter sink) is tried. Defaults such
// as Knative's "retry 10, exponential, PT0.2S" for brokers are applied by the
// API layer; here a zero field means exactly what it says, except Timeout.
// A Policy is a plain value; it is safe to copy and to share read-only.
type Policy struct {
	// Retry is how many times a failed attempt is retried after the first
	// one, so a destination gets at most Retry+1 attempts. Zero: no retry.
	Retry int

	// BackoffPolicy is linear or exponential; empty means exponential.
	BackoffPolicy BackoffPolicy

	// BackoffDelay is the base delay of BackoffPolicy. Zero: retry at once.
	BackoffDelay time.Duration

	// Timeout bounds each attempt, from sending the request to reading the
	// response (including a reply event). Zero means Config.DefaultTimeout.
	// A timed-out attempt is retriable.
	Timeout time.Duration

	// RetryAfterMax caps how long a Retry-After header on a 429 or 503
	// answer may delay the next retry. nil: Retry-After is honoured without
	// a cap; zero: Retry-After is ignored (Knative's opt-out, "PT0S"). The
	// retry waits for the longer of the backoff and the capped Retry-After.
	RetryAfterMax *time.Duration
}

// Validate reports what is wrong with the policy.
func (p Policy) Validate() error {
	var errs []error
	if p.Retry < 0 {
		errs = append(errs, fmt.Errorf("retry %d is negative", p.Retry))
	}
	switch p.BackoffPolicy {
	case "", BackoffExponential, BackoffLinear:
	default:
		errs = append(errs, fmt.Errorf("backoffPolicy %q is neither %q nor %q", p.BackoffPolicy, BackoffLinear, BackoffExponential))
	}
	if p.BackoffDelay < 0 {
		errs = append(errs, fmt.Errorf("backoffDelay %v is negative", p.BackoffDelay))
	}
	if p.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", p.Timeout))
	}
	if p.RetryAfterMax != nil && *p.RetryAfterMax < 0 {
		errs = append(errs, fmt.Errorf("retryAfterMax %v is negative", *p.RetryAfterMax))
	}
	return errors.Join(errs...)
}

// Backoff returns the delay before retry n of a destination, n = 1 for the
// first retry: BackoffDelay·n when linear, BackoffDelay·2^n when exponential
// (Knative's formulas with n the number of the retry). It saturates instead
// of overflowing and is 0 for n < 1.
func (p Policy) Backoff(n int) time.Duration {
	d := p.BackoffDelay
	if n < 1 || d <= 0 {
		return 0
	}
	var f float64
	if p.BackoffPolicy == BackoffLinear {
		f = float64(n)
	} else {
		f = math.Exp2(float64(min(n, 62)))
	}
	if v := float64(d) * f; v < float64(math.MaxInt64) {
		return time.Duration(v)
	}
	return time.Duration(math.MaxInt64)
}

// retryDelay is how long to wait before retry n after an attempt that
// failed with status (0 when there was no answer) and, on 429 and 503, a
// Retry-After header value.
func (p Policy) retryDelay(n, status int, retryAfter string, now time.Time) time.Duration {
	wait := p.Backoff(n)
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable || retryAfter == "" {
		return wait
	}
	if p.RetryAfterMax != nil && *p.RetryAfterMax == 0 {
		return wait
	}
	ra, ok := parseRetryAfter(retryAfter, now)
	if !ok {
		return wait
	}
	if p.RetryAfterMax != nil {
		ra = min(ra, *p.RetryAfterMax)
	}
	return max(wait, ra)
}

// parseRetryAfter parses a Retry-After header value: a non-negative number
// of seconds, or an HTTP date (a date in the past gives 0). ok is false for
// anything else.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return time.Duration(math.MaxInt64), true
			}
			return 0, false
		}
		if secs > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// retryableStatus reports whether an attempt answered with status is
// retried, per the Knative data-plane table: 404, 408, 409, 429 and every
// 5xx are; 1xx, 3xx and the other 4xx are not; a code outside the table
// (below 100 or above 599) is. 2xx is success and never asks this question.
func retryableStatus(status int) bool {
	switch {
	case status == http.StatusNotFound, status == http.StatusRequestTimeout,
		status == http.StatusConflict, status == http.StatusTooManyRequests:
		return true
	case status >= 100 && status < 200, status >= 300 && status < 500:
		return false
	default: // 5xx and codes outside the table
		return true
	}
}
