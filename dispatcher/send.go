package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Send delivers one event to one destination with p's retries, without a bus: what sources
// use to hand their events to their sink. It sends in binary mode, retries per the Knative
// data-plane rules (404, 408, 409, 429, 5xx and failed connections or timeouts are retried;
// other 4xx are not; Retry-After is honoured on 429 and 503), and returns nil once the
// destination answered 2xx. Otherwise it returns an error that names the last status. A reply
// event in the answer is not read. client nil means http.DefaultClient.
func Send(ctx context.Context, client *http.Client, u *url.URL, ev *event.Event, p Policy) error {
	if client == nil {
		client = http.DefaultClient
	}
	var last error
	for n := 0; ; n++ {
		status, retryAfter, err := sendOnce(ctx, client, u, ev, p.Timeout)
		if err == nil && status >= 200 && status < 300 {
			return nil
		}
		switch {
		case err != nil:
			last = err
		default:
			last = fmt.Errorf("%s answered %d", u.Redacted(), status)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), n+1, last)
		}
		if errors.Is(err, errNotSendable) || err == nil && !retryableStatus(status) || n >= p.Retry {
			return fmt.Errorf("after %d attempts: %w", n+1, last)
		}
		t := time.NewTimer(p.retryDelay(n+1, status, retryAfter, time.Now()))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), n+1, last)
		}
	}
}

// sendOnce makes one attempt; status is 0 when there was no answer.
func sendOnce(ctx context.Context, client *http.Client, u *url.URL, ev *event.Event, timeout time.Duration) (status int, retryAfter string, err error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return 0, "", err
	}
	if err := writeBinary(ctx, req, ev); err != nil {
		return 0, "", errors.Join(errNotSendable, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// errNotSendable marks an event that cannot be written as an HTTP request.
var errNotSendable = errors.New("the event cannot be sent")
