// Package pubsub is an Eddy bus (bus.Bus) on Google Cloud Pub/Sub, written
// with the v2 Go client (cloud.google.com/go/pubsub/v2). It is tested
// against pstest, Google's in-process Pub/Sub fake, and works with the
// gcloud emulator (Config.Endpoint or PUBSUB_EMULATOR_HOST) and Google
// Cloud.
//
// # Topics and groups
//
// Each bus topic is a Pub/Sub topic, projects/<project>/topics/<prefix>-<topic>,
// and each consumer group a Pub/Sub subscription on it,
// projects/<project>/subscriptions/<prefix>-<topic>~<group> ("~" cannot occur
// in bus names, so the mapping is one to one; ids over Pub/Sub's 255
// characters are shortened with a hash). Every id starts with the prefix,
// which starts with a letter and not "goog", as Pub/Sub requires. The
// subscription is created by the group's first Subscribe, so the group sees
// every event published after Subscribe returns; it never expires, redelivers
// without backoff and keeps unacknowledged messages for Pub/Sub's default 7
// days. DeleteTopic deletes the topic and the subscriptions the bus made for
// it (Pub/Sub alone would leave them detached); DeleteGroup (bus.GroupDeleter)
// deletes the subscription.
//
// # Events on the wire
//
// Events follow the Google Cloud Pub/Sub protocol binding for CloudEvents in
// binary mode: each context attribute and extension is a Pub/Sub attribute
// "ce-<name>" holding its canonical string, datacontenttype is the
// "content-type" attribute and the data is the message data. An event whose
// attributes break Pub/Sub's limits (100 attributes, 256-byte keys,
// 1024-byte values, UTF-8) travels in structured mode instead: content-type
// "application/cloudevents+json" and the JSON event as data. Receivers read
// both modes (and sdk-go's "Content-Type" spelling); a message that is not a
// CloudEvent is logged and acknowledged, so it does not come back. The
// partition key (bus.PartitionKey) becomes the message's ordering key (a
// hash if over Pub/Sub's 1024 bytes). MaxEventBytes is Pub/Sub's 10 MB
// request limit less some room, measured on the encoded Pub/Sub message.
// (pstest's gRPC server takes at most 4 MiB per request.)
//
// # Publishing
//
// Publish hands the messages to the topic's Pub/Sub Publisher, with message
// ordering enabled, and returns nil only once every message has a server
// message id. Messages that fail with a transient error are published again,
// in order, until the context ends (so a retried publish may leave
// duplicates, as at-least-once allows).
//
// # Delivery, acks and deadlines
//
// Members pull with the unary Pull call rather than the client's
// StreamingPull-based Receive, for three reasons: the bus needs its own ack
// deadlines and exact in-flight limits; Receive extends leases and schedules
// ordered callbacks by itself; and pstest feeds a streaming pull one message
// per stream every 10ms (about 60 messages/s measured here), against tens
// of thousands per second for Pull. Each Pull asks for as many messages as
// the member has room for under SubscribeOptions.MaxInFlight (messages
// pulled but not yet received count), at most 1000. Against Google Cloud a
// Pull waits at the server for messages (Config.LongPoll); against an
// emulator it returns at once and the member polls every
// Config.PollInterval, waking early when an ack has gone out.
//
// Ack and Nack are queued and sent in batches by one sender per group
// (Acknowledge, and ModifyAckDeadline to 0 for Nack, which Pub/Sub redelivers
// at once). The ack deadline is kept by the bus: it runs from the moment the
// member receives the delivery, and when it passes unsettled the bus nacks
// the message, so any positive SubscribeOptions.AckDeadline works
// (MinAckDeadline is 0) and DeadlineExtender is implemented. Meanwhile the
// bus keeps Pub/Sub's own lease on every message the member holds alive
// (ModifyAckDeadline to the subscription's ack deadline, Config.AckDeadline
// clamped to Pub/Sub's 10s..600s), so Pub/Sub redelivers by itself only
// when the process dies or loses the connection. When a member leaves, its
// unsettled deliveries are nacked. Attempt counts deliveries of a message
// id to the group within this Bus (Pub/Sub only counts attempts on
// subscriptions with a dead-letter policy; its count is used when present).
//
// # Ordering
//
// Subscriptions of ordered groups (SubscribeOptions.Ordered) are created
// with message ordering enabled, so Pub/Sub delivers the messages of an
// ordering key in publish order and not the next one before the previous
// is acknowledged. The member also holds back later messages of a key it
// already has out, and returns them with the earlier one when that one is
// nacked or expires, since Pub/Sub then delivers them all again. Pub/Sub
// cannot change a subscription's ordering, so a group's ordering is fixed
// when it is created: a member asking for the other mode gets
// bus.ErrGroupMismatch, even when no member is live, until DeleteGroup.
//
// # Features
//
// Durable: Pub/Sub stores published messages and subscription state (pstest
// keeps them in memory, for as long as it runs). OrderedByKey: as above.
// AckDeadline with MinAckDeadline 0, and MaxEventBytes: as above. Replay is
// not declared: Pub/Sub can seek a subscription to a time when the topic
// retains messages, but pstest's Seek loses the message bodies and mixes
// topics, so it cannot be tested here; Subscribe refuses Earliest and
// AtTime with bus.ErrUnsupported. Offsets: Pub/Sub has none.
//
// # Configuration
//
// ParseConfig reads these keys (see Config for details): project,
// topicPrefix (default "eddy"), endpoint (an emulator; PUBSUB_EMULATOR_HOST
// is used when unset), apiEndpoint (a Google Cloud endpoint override),
// ackDeadline (default 30s), maxInFlight (default 1000), longPoll,
// pollInterval (default 10ms) and publishDelay (default 1ms); and from the
// secret, credentials.json (a service account key; without it application
// default credentials are used). Credentials are never logged or quoted in
// errors.
package pubsub
