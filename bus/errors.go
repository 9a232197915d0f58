package bus

import "errors"

// Errors shared by every Bus. Implementations return them, or errors that
// wrap them, so that callers can test with errors.Is.
var (
	// ErrClosed is returned by a closed Bus, and by Subscription.Err when a
	// subscription ended because its bus closed.
	ErrClosed = errors.New("bus: closed")
	// ErrTopicNotFound is returned for a topic that does not exist, and by
	// Subscription.Err when the topic was deleted.
	ErrTopicNotFound = errors.New("bus: topic not found")
	// ErrInvalidName is wrapped by errors about topic and group names.
	ErrInvalidName = errors.New("bus: invalid name")
	// ErrInvalidEvent is wrapped by Publish errors about an event that is
	// not a valid CloudEvent.
	ErrInvalidEvent = errors.New("bus: invalid event")
	// ErrEventTooLarge is wrapped by Publish errors about an event larger
	// than Features.MaxEventBytes.
	ErrEventTooLarge = errors.New("bus: event too large")
	// ErrUnsupported is wrapped by errors about an option that needs an
	// ability the bus lacks (see Features).
	ErrUnsupported = errors.New("bus: unsupported")
	// ErrGroupMismatch is wrapped by Subscribe errors when the options of a
	// new member contradict those of the group's live members.
	ErrGroupMismatch = errors.New("bus: subscription options differ from the group's")
)
