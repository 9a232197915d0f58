package dispatcher

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Kind values for Subscriber.Kind, the "kind" metric label.
const (
	KindSubscription = "subscription"
	KindTrigger      = "trigger"
)

// Subscriber is everything the dispatcher needs to know about one
// Subscription or Trigger: where its events go and how hard to try. It is a
// value: Start and Update copy it (the URLs too), so the caller may reuse or
// change it afterwards.
type Subscriber struct {
	// Kind, Namespace and Name identify the owner in metrics (labels kind,
	// namespace, name), logs and Dropped reports. Kind is normally
	// KindSubscription or KindTrigger. They cannot change with Update.
	Kind, Namespace, Name string

	// SubscriberURI receives each event (status.physicalSubscription
	// .subscriberUri). It may be nil: then the event itself goes to
	// ReplyURI, as Knative allows for reply-only subscriptions.
	SubscriberURI *url.URL

	// ReplyURI receives the event a subscriber answers with (a 200 carrying
	// a CloudEvent). nil: replies are discarded (their bodies are not even
	// parsed). For a Trigger it is the Broker's ingress.
	ReplyURI *url.URL

	// DeadLetterURI receives, with the knativeerror* extensions, every event
	// that could not be delivered. nil: such events are dropped (counted,
	// logged at warn and reported to Config.OnDrop).
	DeadLetterURI *url.URL

	// Policy governs every destination: subscriber, reply and dead letter.
	Policy Policy

	// Filter, when not nil, selects the events to deliver; the others are
	// acknowledged without delivery (Triggers use it). It is called from
	// many goroutines at once and must not block. A panic in it counts as
	// "no match" and is logged.
	Filter func(*event.Event) bool

	// Ordered asks for one event in flight per partition key (the bus's
	// SubscribeOptions.Ordered). It cannot change with Update.
	Ordered bool

	// MaxInFlight caps the events being delivered at once, retries
	// included (the bus's SubscribeOptions.MaxInFlight); zero is the bus's
	// default. It cannot change with Update.
	MaxInFlight int
}

// Validate reports what is wrong with the subscriber.
func (s *Subscriber) Validate() error {
	var errs []error
	if s.SubscriberURI == nil && s.ReplyURI == nil {
		errs = append(errs, errors.New("neither subscriberUri nor replyUri is set: nowhere to send events"))
	}
	for _, u := range []struct {
		name string
		u    *url.URL
	}{{"subscriberUri", s.SubscriberURI}, {"replyUri", s.ReplyURI}, {"deadLetterSinkUri", s.DeadLetterURI}} {
		if err := validateURL(u.u); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
		}
	}
	if err := s.Policy.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("delivery: %w", err))
	}
	if s.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("maxInFlight %d is negative", s.MaxInFlight))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dispatcher: invalid subscriber %s %s/%s: %w", s.Kind, s.Namespace, s.Name, err)
	}
	return nil
}

func validateURL(u *url.URL) error {
	if u == nil {
		return nil
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", u.Redacted())
	}
	return nil
}

// ErrNotLive is wrapped by Consumer.Update errors about a field that cannot
// change while the consumer runs (Kind, Namespace, Name, Ordered,
// MaxInFlight): Stop the consumer and Start a new one instead.
var ErrNotLive = errors.New("dispatcher: field cannot change on a running consumer")

// sameFixed reports which fixed field differs between a and b, "" if none.
func sameFixed(a, b *Subscriber) string {
	switch {
	case a.Kind != b.Kind:
		return "kind"
	case a.Namespace != b.Namespace:
		return "namespace"
	case a.Name != b.Name:
		return "name"
	case a.Ordered != b.Ordered:
		return "ordered"
	case a.MaxInFlight != b.MaxInFlight:
		return "maxInFlight"
	}
	return ""
}

// role is the part a destination plays in a delivery.
type role int

const (
	roleSubscriber role = iota
	roleReply
	roleDeadLetter
	numRoles
)

func (r role) String() string {
	switch r {
	case roleSubscriber:
		return "subscriber"
	case roleReply:
		return "reply"
	default:
		return "dead_letter"
	}
}

// target is an immutable snapshot of a Subscriber, ready for delivery.
type target struct {
	sub     Subscriber
	urls    [numRoles]*url.URL
	dest    [numRoles]string // redacted URLs for knativeerrordest and logs
	timeout time.Duration
}

func newTarget(s Subscriber, defaultTimeout time.Duration) *target {
	t := &target{sub: s}
	for r, u := range []*url.URL{s.SubscriberURI, s.ReplyURI, s.DeadLetterURI} {
		if u != nil {
			c := *u
			if u.User != nil {
				ui := *u.User
				c.User = &ui
			}
			t.urls[r] = &c
			t.dest[r] = c.Redacted()
		}
	}
	t.sub.SubscriberURI, t.sub.ReplyURI, t.sub.DeadLetterURI = t.urls[roleSubscriber], t.urls[roleReply], t.urls[roleDeadLetter]
	if p := s.Policy.RetryAfterMax; p != nil {
		v := *p
		t.sub.Policy.RetryAfterMax = &v
	}
	t.timeout = s.Policy.Timeout
	if t.timeout == 0 {
		t.timeout = defaultTimeout
	}
	return t
}
