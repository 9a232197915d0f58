package dispatcher

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Dispatcher. The zero value of every field means its
// default; New fills the defaults in and validates the result.
type Config struct {
	// Registerer receives the dispatcher's metrics (see the package
	// documentation). nil: the metrics are kept but not registered.
	Registerer prometheus.Registerer

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger

	// OnDrop, if set, is called for every event dropped because it could
	// not be delivered and its subscriber has no dead-letter sink, so that
	// the owner can record a Kubernetes-style Event. It is called from the
	// delivery goroutine, before the event is acknowledged, possibly from
	// many goroutines at once; it should return quickly.
	OnDrop func(Dropped)

	// DefaultTimeout bounds an attempt whose Policy.Timeout is zero.
	// Default 30s.
	DefaultTimeout time.Duration

	// AckDeadline is the ack deadline asked of the bus for each consumer. It
	// is raised to twice (attempt timeout + 5s) if smaller; that is also the
	// default. On a bus whose deliveries implement bus.DeadlineExtender
	// (bus/stub does) the dispatcher moves the deadline forward while it
	// retries, so a short deadline only means a crash is noticed sooner. On
	// other buses set it above the longest retry sequence (all attempts and
	// backoffs to subscriber, reply and dead-letter sink), or a slow retry
	// sequence will see its event delivered again in parallel.
	AckDeadline time.Duration

	// RedeliveryDelay is how long a delivery whose dead-letter sink failed
	// too is held before it is nacked (so that the bus does not hand it out
	// again at once), doubled with each redelivery of the event up to
	// MaxRedeliveryDelay. Defaults 1s and 1m; a negative RedeliveryDelay
	// nacks at once.
	RedeliveryDelay    time.Duration
	MaxRedeliveryDelay time.Duration

	// MaxReplyBytes caps the size of a reply event read from a subscriber's
	// response; a larger reply is a failed delivery. Default 4 MiB.
	MaxReplyBytes int64

	// MaxIdleConnsPerHost is how many keep-alive connections the shared
	// transport keeps to each destination. Default 1024: with fewer than
	// the in-flight deliveries to one host, connections churn. Ignored if
	// Transport is set.
	MaxIdleConnsPerHost int

	// Transport, if set, replaces the dispatcher's tuned http.Transport (to
	// add TLS roots, say). The dispatcher never follows redirects.
	Transport http.RoundTripper
}

// leaseMargin is added to an attempt's timeout when the dispatcher extends a
// delivery's ack deadline.
const leaseMargin = 5 * time.Second

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DefaultTimeout == 0 {
		c.DefaultTimeout = 30 * time.Second
	}
	if c.RedeliveryDelay == 0 {
		c.RedeliveryDelay = time.Second
	}
	if c.MaxRedeliveryDelay == 0 {
		c.MaxRedeliveryDelay = time.Minute
	}
	if c.MaxReplyBytes == 0 {
		c.MaxReplyBytes = 4 << 20
	}
	if c.MaxIdleConnsPerHost == 0 {
		c.MaxIdleConnsPerHost = 1024
	}
}

// Validate reports what is wrong with the configuration, after defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.DefaultTimeout < 0 {
		errs = append(errs, fmt.Errorf("DefaultTimeout %v is negative", c.DefaultTimeout))
	}
	if c.AckDeadline < 0 {
		errs = append(errs, fmt.Errorf("AckDeadline %v is negative", c.AckDeadline))
	}
	if c.MaxRedeliveryDelay < 0 {
		errs = append(errs, fmt.Errorf("MaxRedeliveryDelay %v is negative", c.MaxRedeliveryDelay))
	}
	if c.MaxReplyBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxReplyBytes %d is negative", c.MaxReplyBytes))
	}
	if c.MaxIdleConnsPerHost < 0 {
		errs = append(errs, fmt.Errorf("MaxIdleConnsPerHost %d is negative", c.MaxIdleConnsPerHost))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dispatcher: invalid config: %w", err)
	}
	return nil
}

// Dropped describes an event that was given up: it could not be delivered
// (retries exhausted, a non-retriable answer, a malformed reply, or a reply
// that could not be forwarded) and its subscriber has no dead-letter sink.
// It never carries the event's data.
type Dropped struct {
	// Kind, Namespace, Name identify the Subscriber.
	Kind, Namespace, Name string
	// EventID, EventType, EventSource identify the event.
	EventID, EventType, EventSource string
	// Destination is the URL that failed (credentials redacted).
	Destination string
	// StatusCode is the last HTTP status, 0 if there was no answer.
	StatusCode int
	// Attempts is how many attempts were made to Destination.
	Attempts int
	// Reason says why in a few words, e.g. "retries exhausted: status 500".
	Reason string
}
