// Package rabbitmq implements bus.Bus on a RabbitMQ broker over AMQP 0-9-1
// (github.com/rabbitmq/amqp091-go). It passes bus/bustest.
//
// # Mapping
//
//   - A topic is a durable fanout exchange, <prefix><topic>.
//   - A consumer group is a durable queue, <prefix><topic>/<group>, bound to
//     its topic's exchange: every group gets every event, and the members of
//     a group (consumers of one queue, in any process) share its events.
//     The queue is made by the group's first Subscribe and lives on without
//     members, keeping the group's place; a new group starts at the latest
//     event (only Latest: classic and quorum queues cannot replay).
//   - An event is a persistent message (delivery mode 2) in the CloudEvents
//     AMQP binding's binary mode: each context attribute is a header (AMQP
//     1.0 application-property) named cloudEvents_<attribute>, datacontenttype
//     is the content-type property and the data is the body. Attributes go
//     as canonical strings (time as RFC 3339 with nanoseconds: AMQP 0-9-1
//     timestamps have whole seconds); boolean, integer and binary extensions
//     keep their AMQP types. message-id is the event id.
//   - Publish uses publisher confirms: it returns nil only once the broker
//     has confirmed every event of the batch (for durable queues, after
//     writing it to disk). A negative confirm (basic.nack) is an error.
//   - Ack is basic.ack and Nack is basic.nack with requeue: the broker
//     delivers the event again, to any member. MaxInFlight is the member's
//     prefetch count (basic.qos), default Config.Prefetch; the bus also never
//     has more than that many deliveries out to the member across reconnects.
//   - Attempt: classic queues only flag redeliveries, so Attempt is 2 for a
//     flagged one, or one more than the attempt this process last nacked or
//     let expire; quorum queues count deliveries (x-delivery-count) and
//     Attempt follows that count. Ordered groups count their hand-outs in
//     the member. It is a hint, as bus.Delivery allows.
//   - Ack deadline: RabbitMQ has no per-delivery deadline, so the bus keeps
//     one: a timer per delivery, started when the member receives it. On
//     expiry the bus nacks it with requeue so that another member may take
//     it; a late Ack then does nothing (the event comes again), a late Nack
//     too. Deliveries implement bus.DeadlineExtender. Keep deadlines well
//     under the broker's consumer_timeout (30 minutes by default), after
//     which the broker closes the channel of a consumer that holds a
//     delivery (the bus then reconnects the subscription, and the event
//     comes again).
//   - Messages that are not CloudEvents in binary mode are rejected without
//     requeue and so dead-lettered: every group queue has the dead-letter
//     exchange <prefix>@dead-letter, a fanout exchange bound to the durable
//     queue of the same name. They are logged (Warn) with their queue and
//     message-id, never silently dropped. The broker adds an x-death header
//     that names the group queue. Nothing consumes the dead-letter queue:
//     inspect and purge it with the usual RabbitMQ tools.
//
// # Ordering
//
// Features.OrderedByKey is declared. An ordered group's queue is declared
// with x-single-active-consumer: the broker delivers the whole queue, in
// queue order, to one member at a time (the others stand by and take over,
// in order, when it leaves). That member gates events client-side: it hands
// out at most one event per partition key and holds the key's later events
// until that one is acknowledged; a nacked or expired event is handed out
// again, before the key's later events, without returning it to the broker.
// Events without a key are not held. The mode is a queue argument, which
// RabbitMQ fixes when the queue is made, so a group's ordering is fixed at
// its creation: a Subscribe asking for the other mode fails with
// bus.ErrGroupMismatch even when the group has no live member, until the
// group is deleted (DeleteGroup). Unordered groups let any number of events
// of a key be in flight, spread over all members.
//
// # Topics, groups and their deletion
//
// AMQP cannot list queues or bindings, and the bus does not rely on the
// management plugin's HTTP API (often off, and another credential), so each
// topic's groups are recorded in RabbitMQ itself: the durable
// queue <prefix><topic>/@groups holds one persistent message per group,
// added when Subscribe creates the group's queue. DeleteTopic deletes the
// exchange (publishes then fail with bus.ErrTopicNotFound, Subscribe too,
// by a passive declare), ends this bus's subscriptions to the topic with
// bus.ErrTopicNotFound, reads the registry and deletes every group queue
// and then the registry. Members in other processes see the broker cancel
// their consumer, find the exchange gone and end with bus.ErrTopicNotFound.
// DeleteGroup (bus.GroupDeleter) deletes one group's queue and its record;
// its members end with a nil Err. Readers of a registry hold a lock: the
// exclusive queue <prefix><topic>/@lock, which only one connection can
// declare and which the broker drops if its holder dies, so a crash in the
// middle of a deletion leaves the registry whole for the next try.
//
// # Connections
//
// The bus keeps one connection (client property connection_name =
// Config.ConnectionName) and reconnects with exponential backoff and jitter
// when it is lost. Publish waits for the reconnection until its context ends
// and publishes again every event of the batch not yet confirmed, so an
// event may be duplicated, never dropped. Subscriptions survive: each
// consumes again on the new connection (the broker has requeued what was
// unacknowledged, so it comes again; an Ack of a delivery from the lost
// channel returns nil and does nothing). New fails if the first connection
// cannot be made.
//
// # Features
//
//	Durable       true: durable exchanges and queues, persistent messages, confirms
//	OrderedByKey  true: single active consumer plus per-key gating (above)
//	Replay        false: queues cannot start a new group in the past
//	Offsets       false: queues have no offsets (streams would; not used)
//	AckDeadline   true: kept by the client (above); MinAckDeadline 0
//	MaxEventBytes Config.MaxEventBytes (default 16 MiB): data, content type and attribute headers
//
// # Configuration
//
// ParseConfig reads a Bus resource: settings from its config map (url,
// insecureSkipVerify, serverName, prefix, prefetch, ackDeadline, queueType,
// maxEventBytes, heartbeat, connectionName, publisherChannels, dialTimeout,
// reconnectBackoff, maxReconnectBackoff) and credentials from its secret
// (username, password, ca, cert, key); see ParseConfig and Config for each.
// The URL carries no credentials. Without a username the bus uses the
// client certificate (SASL EXTERNAL) or, for a broker on loopback only,
// guest/guest. Credentials never appear in logs or errors.
package rabbitmq
