// Package bus defines the event bus that carries CloudEvents between Eddy's
// ingress and its dispatcher: topics that producers publish to, and consumer
// groups that subscribe to them with explicit acknowledgement.
//
// One package per backend implements [Bus] (bus/stub, the default embedded
// durable log; later kafka, rabbitmq, pubsub, nats) and every implementation
// passes the conformance suite in bus/bustest. What a backend can and cannot
// do is declared in its [Features]; optional abilities are small interfaces
// ([Offsetter], [DeadlineExtender], [GroupDeleter]) found by type assertion.
//
// # Topics and groups
//
// A topic is a named, append-only stream of events. It must be created with
// [Bus.EnsureTopic] before it is published to or subscribed to. A consumer
// group is created by the first [Bus.Subscribe] that names it, and from then
// on sees every event published to the topic after that Subscribe returned
// (or from the position given by [SubscribeOptions.StartFrom]). Every group
// sees every event; the members of one group (several Subscribe calls naming
// the same group, in one process or several) share the events between them.
// Groups outlive their subscriptions: a group with no members keeps its place
// and catches up when a member subscribes again. On a Durable bus the group's
// place also survives a restart.
//
// # Delivery and acknowledgement
//
// Delivery is at least once. Each [Delivery] must be settled with Ack (done:
// never deliver it to this group again) or Nack (failed: deliver it again
// soon, to any member). A delivery that is not settled before its ack deadline
// is delivered again, as is every unsettled delivery of a member whose
// subscription ends and, on a Durable bus, every event not acknowledged before
// a crash or restart. Consumers must therefore tolerate duplicates; the event
// ID identifies them. Delivery policy (retry counts, backoff, dead-letter
// sinks) is not the bus's business: it lives in the dispatcher, which uses
// Nack and the attempt counter as its raw material.
//
// # Ordering
//
// When [Features].OrderedByKey is set and a subscription asks for
// [SubscribeOptions].Ordered, events that carry the same CloudEvents
// "partitionkey" extension ([PartitionKeyExtension]) are delivered to the
// group in the order they were published, one at a time: the next event of a
// key is not delivered to any member until the previous one is acknowledged.
// A nacked or expired event of a key is redelivered before the key's later
// events. Events without a partition key are not ordered. In unordered mode
// the bus still hands events out roughly in publish order, but any number of
// events of one key may be in flight at once, so redelivery can reorder them.
// Ordering holds only while consumers settle their deliveries before the ack
// deadline: a late Ack of an expired delivery still counts and may let the
// key's next event go while a redelivered copy is being processed.
//
// # Concurrency and lifetime
//
// A Bus, its Subscriptions and its Deliveries are safe for concurrent use by
// multiple goroutines. The context passed to Publish, EnsureTopic and
// DeleteTopic bounds that call only; the context passed to Subscribe bounds
// the call and the subscription: when it is done the subscription ends as if
// Close had been called. Backends that talk to a server reconnect by
// themselves: Publish waits for the connection (until its context is done),
// and a subscription survives a disconnect, though deliveries not acknowledged
// before it may come again. A subscription whose backend gives up ends, and
// its Err says why.
//
// # Names
//
// Topic and group names are 1 to 200 characters from [A-Za-z0-9._-], starting
// with a letter or a digit (see [ValidateName]). Backends whose own naming is
// narrower map these names onto theirs.
package bus
