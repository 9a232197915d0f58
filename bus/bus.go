package bus

import (
	"context"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Bus publishes events to topics and delivers them to consumer groups.
//
// All methods are safe for concurrent use. After Close, every method except
// Features and Close returns an error that wraps ErrClosed.
type Bus interface {
	// Publish appends events to topic, in order, and returns once the bus has
	// made all of them durable (on a Durable bus they then survive a crash;
	// otherwise they are held by the bus). A nil error means every event was
	// accepted. A non-nil error means some, none or all of them may have been
	// published (a batch is not atomic), so the caller should publish them
	// again and rely on consumers tolerating duplicates. Publish returns
	// ErrTopicNotFound if the topic does not exist, an error wrapping
	// ErrInvalidEvent for an event that fails CloudEvents validation (then
	// nothing was published), ErrEventTooLarge above Features.MaxEventBytes,
	// and ctx.Err() if ctx ends first. The bus does not keep or modify the
	// events after Publish returns.
	Publish(ctx context.Context, topic string, events ...*event.Event) error

	// Subscribe joins group on topic and returns a subscription that delivers
	// the group's share of events to this member. The group is created on its
	// first Subscribe, starting at opts.StartFrom; a later Subscribe to an
	// existing group ignores StartFrom. Once Subscribe returns, the group will
	// see every event whose Publish starts afterwards. ctx bounds the
	// subscription's life. Subscribe returns ErrTopicNotFound if the topic
	// does not exist and an error wrapping ErrUnsupported if opts asks for an
	// ability the bus lacks.
	Subscribe(ctx context.Context, topic, group string, opts SubscribeOptions) (Subscription, error)

	// EnsureTopic creates topic if it does not exist. It is idempotent.
	EnsureTopic(ctx context.Context, topic string) error

	// DeleteTopic deletes topic, its events and its groups. Live subscriptions
	// to it end with ErrTopicNotFound. Deleting a missing topic is not an
	// error.
	DeleteTopic(ctx context.Context, topic string) error

	// Features reports what this bus can do. It does not change over the
	// bus's life.
	Features() Features

	// Close stops the bus: it waits for publishes already accepted, ends every
	// subscription (their channels close and Err returns ErrClosed) and
	// releases resources. Unacknowledged deliveries are redelivered when the
	// bus is opened again (Durable) or lost with it (not Durable). Close is
	// idempotent.
	Close() error
}

// Subscription is one member of a consumer group.
type Subscription interface {
	// Deliveries returns the channel this member's deliveries arrive on. It
	// is closed when the subscription ends: after Close, when the Subscribe
	// context is done, when the topic is deleted or the bus closed. The bus
	// never has more than SubscribeOptions.MaxInFlight unsettled deliveries
	// out to one member, counting those it holds for the member until the
	// member receives them: a member that stops receiving holds up that many
	// events until it closes.
	Deliveries() <-chan Delivery

	// Close leaves the group and waits until Deliveries is closed. The
	// member's unsettled deliveries go back to the group and are delivered
	// again, to another member or later; Ack and Nack of them are still
	// accepted, though the event may be delivered again. Close is idempotent
	// and returns nil unless leaving failed.
	Close() error

	// Err returns why the subscription ended: nil while it is live or if it
	// ended by Close or by its context, ErrClosed if the bus closed,
	// ErrTopicNotFound if the topic was deleted, or a backend error.
	Err() error
}

// Delivery is one delivery of one event to one member of a group. It must be
// settled by Ack or Nack; only the first of them counts, later calls return
// nil and do nothing.
type Delivery interface {
	// Event returns the delivered event. It belongs to the receiver, which
	// may modify it; the bus keeps its own copy for redelivery.
	Event() *event.Event

	// Attempt is 1 on the first delivery of the event to this group and
	// counts up with each redelivery. It is a hint, not a persistent count:
	// after a restart or a reconnect an event may be delivered again with
	// Attempt 1.
	Attempt() int

	// Deadline is when the bus will deliver the event again if this delivery
	// is not settled (the bus may allow a little longer); the zero time if
	// the bus has no ack deadline. A delivery received after its deadline
	// (by a receiver stalled that long) may already be out again: handling
	// it is harmless, but in ordered mode it is a duplicate out of order.
	Deadline() time.Time

	// Ack marks the event done for this group. An Ack after the deadline
	// still counts if the bus can take it, but the event may already have
	// been delivered again. It returns an error wrapping ErrClosed if the bus
	// is closed (the event will then be delivered again).
	Ack() error

	// Nack asks for the event to be delivered again soon, to any member of
	// the group (perhaps at once: the bus does not back off; retry policy is
	// the caller's). A Nack after the deadline does nothing: the event has
	// already been handed out again.
	Nack() error
}

// SubscribeOptions tune one Subscribe call. The zero value is valid: a new
// group starts at the latest event, with the bus's default deadline and
// in-flight limit, unordered.
type SubscribeOptions struct {
	// StartFrom is where a group that does not exist yet starts. It is
	// ignored when the group exists. The zero value is Latest. Earliest and
	// AtTime need Features.Replay, AtOffset needs Features.Offsets.
	StartFrom Position

	// AckDeadline is how long a delivery to this member may stay unsettled,
	// counted from when the member receives it from Deliveries, before it is
	// delivered again. Zero means the bus's default. A bus that lacks
	// Features.AckDeadline ignores it; one with Features.MinAckDeadline
	// raises smaller values to that minimum.
	AckDeadline time.Duration

	// MaxInFlight caps the unsettled deliveries out to this member at once.
	// Zero means the bus's default.
	MaxInFlight int

	// Ordered asks for per-key ordering (see the package documentation). It
	// needs Features.OrderedByKey. All live members of a group must agree on
	// it; Subscribe returns an error wrapping ErrGroupMismatch otherwise.
	Ordered bool
}

// Features declares what a Bus can do. The conformance suite skips the cases
// a bus honestly lacks.
type Features struct {
	// Durable: an acknowledged Publish, and the groups' progress, survive a
	// crash or restart of the process (and a reconnect to the backend).
	Durable bool

	// OrderedByKey: SubscribeOptions.Ordered is honoured.
	OrderedByKey bool

	// Replay: new groups can start at Earliest (the oldest retained event)
	// or AtTime.
	Replay bool

	// Offsets: each topic is one totally ordered log; deliveries implement
	// Offsetter and new groups can start AtOffset.
	Offsets bool

	// AckDeadline: unsettled deliveries are redelivered after
	// SubscribeOptions.AckDeadline.
	AckDeadline bool

	// MinAckDeadline is the smallest ack deadline the bus honours; zero if
	// any positive deadline works.
	MinAckDeadline time.Duration

	// MaxEventBytes is the largest encoded event Publish accepts; zero if the
	// bus sets no limit of its own.
	MaxEventBytes int
}

// Offsetter is implemented by the deliveries of a bus with Features.Offsets.
type Offsetter interface {
	// Offset is the event's position in its topic: 0 for the first event
	// ever published to it, one more for each event after that.
	Offset() int64
}

// DeadlineExtender is implemented by deliveries whose ack deadline can be
// moved, so that a consumer can hold an event longer than the subscription's
// AckDeadline (while it retries a slow subscriber, say).
type DeadlineExtender interface {
	// ExtendDeadline sets the delivery's deadline to now plus d. It returns
	// an error if the delivery is already settled or expired.
	ExtendDeadline(d time.Duration) error
}

// GroupDeleter is implemented by buses that can forget a consumer group, so
// that a deleted subscription does not leave its place behind.
type GroupDeleter interface {
	// DeleteGroup ends the group's live subscriptions (their Err is nil) and
	// forgets the group; a later Subscribe creates it afresh. Deleting a
	// missing group is not an error.
	DeleteGroup(ctx context.Context, topic, group string) error
}
