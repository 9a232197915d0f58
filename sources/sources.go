// Package sources holds what every event source shares. Each source is an adapter in its own
// package (sources/github, sources/apiserver, sources/ping, sources/pubsub, sources/kafka)
// that turns outside input into CloudEvents and hands them to a Sender; the sources'
// reconcilers resolve each source object's sink, build its Sender and run its adapter.
package sources

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Sender delivers a source's events to its sink.
type Sender interface {
	// Send delivers ev to the sink, retrying with backoff as the source's delivery policy
	// says, and returns nil once the sink answered 2xx, or the last error (or ctx.Err())
	// once it gives up. The Sender applies the source's ceOverrides. It is safe for
	// concurrent use; Send may modify ev.
	Send(ctx context.Context, ev event.Event) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, ev event.Event) error

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, ev event.Event) error { return f(ctx, ev) }

// EventTypeInfo describes a kind of event a source produces, for the EventType registry
// (eventing.knative.dev/v1beta2 EventType objects).
type EventTypeInfo struct {
	// Type is the CloudEvents type, such as dev.knative.source.github.push.
	Type string
	// Source is the CloudEvents source, such as https://github.com/owner/repo; empty when it
	// varies per event.
	Source string
	// Schema is a URI of the data's schema, if known.
	Schema string
	// Description says what the event means, in a sentence.
	Description string
}
