package dispatcher

import (
	"math"
	"net/http"
	"testing"
	"time"
)

func TestRetryableStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		retry  bool
	}{
		{100, false}, {102, false},
		{300, false}, {301, false}, {302, false}, {304, false}, {307, false},
		{400, false}, {401, false}, {403, false}, {405, false}, {410, false}, {413, false}, {415, false}, {422, false}, {451, false},
		{404, true}, {408, true}, {409, true}, {429, true},
		{500, true}, {501, true}, {502, true}, {503, true}, {504, true}, {599, true},
		{0, true}, {99, true}, {600, true}, {999, true}, // outside the table: retriable
	} {
		if got := retryableStatus(tc.status); got != tc.retry {
			t.Errorf("retryableStatus(%d) = %v, want %v", tc.status, got, tc.retry)
		}
	}
}

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		p    Policy
		n    int
		want time.Duration
	}{
		{"linear 1", Policy{BackoffPolicy: BackoffLinear, BackoffDelay: 200 * ms}, 1, 200 * ms},
		{"linear 2", Policy{BackoffPolicy: BackoffLinear, BackoffDelay: 200 * ms}, 2, 400 * ms},
		{"linear 10", Policy{BackoffPolicy: BackoffLinear, BackoffDelay: 200 * ms}, 10, 2 * time.Second},
		{"exponential 1", Policy{BackoffPolicy: BackoffExponential, BackoffDelay: 200 * ms}, 1, 400 * ms},
		{"exponential 2", Policy{BackoffPolicy: BackoffExponential, BackoffDelay: 200 * ms}, 2, 800 * ms},
		{"exponential 10", Policy{BackoffPolicy: BackoffExponential, BackoffDelay: 200 * ms}, 10, 204800 * ms},
		{"empty policy is exponential", Policy{BackoffDelay: 100 * ms}, 3, 800 * ms},
		{"no delay", Policy{BackoffPolicy: BackoffExponential}, 5, 0},
		{"retry 0", Policy{BackoffPolicy: BackoffLinear, BackoffDelay: time.Second}, 0, 0},
		{"saturates", Policy{BackoffPolicy: BackoffExponential, BackoffDelay: time.Hour}, 100, time.Duration(math.MaxInt64)},
		{"linear saturates", Policy{BackoffPolicy: BackoffLinear, BackoffDelay: time.Duration(math.MaxInt64 / 2)}, 3, time.Duration(math.MaxInt64)},
	} {
		if got := tc.p.Backoff(tc.n); got != tc.want {
			t.Errorf("%s: Backoff(%d) = %v, want %v", tc.name, tc.n, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"0", 0, true},
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"99999999999999999999", time.Duration(math.MaxInt64), true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"Wed, 01 May 2024 12:01:00 GMT", time.Minute, true},
		{"Wednesday, 01-May-24 12:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Wed May  1 12:00:05 2024", 5 * time.Second, true},           // ANSI C
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},        // past: retry now
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"10s", 0, false},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	now := time.Now()
	d := func(v time.Duration) *time.Duration { return &v }
	base := Policy{BackoffPolicy: BackoffLinear, BackoffDelay: 100 * time.Millisecond}
	with := func(max *time.Duration) Policy { p := base; p.RetryAfterMax = max; return p }
	for _, tc := range []struct {
		name       string
		p          Policy
		n, status  int
		retryAfter string
		want       time.Duration
	}{
		{"500 ignores Retry-After", base, 1, 500, "10", 100 * time.Millisecond},
		{"429 honoured, no cap", base, 1, 429, "10", 10 * time.Second},
		{"503 honoured, no cap", base, 2, 503, "3", 3 * time.Second},
		{"429 capped", with(d(time.Second)), 1, 429, "10", time.Second},
		{"429 opt-out with zero cap", with(d(0)), 1, 429, "10", 100 * time.Millisecond},
		{"backoff longer than Retry-After", base, 3, 429, "0", 300 * time.Millisecond},
		{"invalid Retry-After", base, 1, 503, "later", 100 * time.Millisecond},
		{"no Retry-After", base, 1, 503, "", 100 * time.Millisecond},
		{"HTTP date", with(d(time.Minute)), 1, 429, now.Add(20 * time.Second).UTC().Format(http.TimeFormat), 20 * time.Second},
	} {
		got := tc.p.retryDelay(tc.n, tc.status, tc.retryAfter, now)
		// HTTP dates have second resolution.
		if got > tc.want || got < tc.want-time.Second || tc.retryAfter == "" && got != tc.want {
			t.Errorf("%s: retryDelay = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	u := mustURL("http://example.com/")
	neg := -time.Second
	for _, tc := range []struct {
		name string
		s    Subscriber
		ok   bool
	}{
		{"subscriber only", Subscriber{SubscriberURI: u}, true},
		{"reply only", Subscriber{ReplyURI: u}, true},
		{"everything", Subscriber{SubscriberURI: u, ReplyURI: u, DeadLetterURI: u, Policy: Policy{Retry: 3, BackoffPolicy: BackoffLinear, BackoffDelay: time.Second}, MaxInFlight: 5}, true},
		{"nowhere to send", Subscriber{DeadLetterURI: u}, false},
		{"relative URL", Subscriber{SubscriberURI: mustURL("/x")}, false},
		{"bad scheme", Subscriber{SubscriberURI: mustURL("ftp://h/x")}, false},
		{"negative retry", Subscriber{SubscriberURI: u, Policy: Policy{Retry: -1}}, false},
		{"bad backoff policy", Subscriber{SubscriberURI: u, Policy: Policy{BackoffPolicy: "quadratic"}}, false},
		{"negative delay", Subscriber{SubscriberURI: u, Policy: Policy{BackoffDelay: -1}}, false},
		{"negative timeout", Subscriber{SubscriberURI: u, Policy: Policy{Timeout: -1}}, false},
		{"negative retryAfterMax", Subscriber{SubscriberURI: u, Policy: Policy{RetryAfterMax: &neg}}, false},
		{"negative maxInFlight", Subscriber{SubscriberURI: u, MaxInFlight: -1}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}

	for _, cfg := range []Config{{DefaultTimeout: -1}, {AckDeadline: -1}, {MaxReplyBytes: -1}, {MaxIdleConnsPerHost: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
	c := Config{}
	c.setDefaults()
	if err := c.Validate(); err != nil || c.DefaultTimeout != 30*time.Second || c.Logger == nil {
		t.Errorf("defaults: %+v, Validate() = %v", c, err)
	}
}
