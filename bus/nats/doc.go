// Package nats is an Eddy bus (bus.Bus) on NATS JetStream, with the
// github.com/nats-io/nats.go client and its jetstream package. It passes
// bus/bustest against a real nats-server with JetStream (-js); it is tested
// with nats-server 2.9.10 and needs 2.9 or later.
//
// # Topics
//
// A topic is a JetStream stream of its own, named <stream_prefix><token>,
// with file storage, the configured replicas, limits retention (max_age,
// max_bytes; the oldest events are discarded), a two-minute duplicate
// window and, as subjects, the topic's partitions:
// <subject_prefix>.<token>.0 … <subject_prefix>.<token>.<N-1>, N being the
// "partitions" setting when the stream was created (the subjects record it;
// every bus reads it from there). With partitions=1 a stream has exactly one
// subject. The token is the topic name with '_' written "__" and '.'
// written "_2E" (names longer than 128 characters then are cut and given a
// hash), which makes it a valid stream name and subject token and keeps
// different names apart. EnsureTopic creates the stream if it is missing;
// DeleteTopic deletes it, with its events and consumers. An event goes to
// the partition of the FNV-1a hash of its partitionkey extension, or of its
// id if it has none.
//
// # Publishing and the CloudEvents mapping
//
// Publish encodes every event first (an invalid one is refused with
// ErrInvalidEvent, an oversized one with ErrEventTooLarge, and then nothing
// is published), publishes them all with asynchronous JetStream publishes
// and returns nil only when the server has acknowledged every one, i.e.
// written it to the stream's file store (on a quorum of replicas). An event whose
// acknowledgement does not come — the connection dropped, or 10s passed —
// is published again after the connection is back, with the same
// Nats-Msg-Id, so that the stream drops a copy it already has; Publish
// waits like this until its context ends. A Nats-Expected-Stream header
// makes sure the subject still belongs to the topic's stream. A topic whose
// stream is gone gives ErrTopicNotFound.
//
// Events travel in the binary content mode of the CloudEvents NATS
// protocol binding (version 1.0.3 of the binding; 1.0.2 knew only the
// structured mode, as NATS had no headers before 2.2):
//
//   - every context attribute and extension is a NATS header named ce-
//     followed by the attribute name (ce-id, ce-source, ce-specversion,
//     ce-type, ce-time, ce-subject, ce-dataschema, ce-datacontenttype,
//     ce-partitionkey, …), whose value is the attribute's canonical string
//     (times in RFC 3339) percent-encoded as the binding's §3.1.3.2 asks:
//     space, double quote, percent and every byte outside printable ASCII
//     become %XY (upper-case hex, UTF-8 bytes);
//   - datacontenttype is, in addition, the content-type header (unless it
//     is itself an application/cloudevents type, which would mean
//     structured mode), for receivers such as sdk-go's nats_jetstream
//     binding that read it there;
//   - the data is the message payload, as is.
//
// Decoding accepts what the binding allows a sender: header names in any
// case, quoted-string values, lower-case or needless percent-encoding (but
// not encodings that are not UTF-8), datacontenttype from content-type
// alone, and the structured mode (content-type application/cloudevents+json
// and the JSON event as the payload). A message that does not decode into a
// valid event is logged and terminated (+TERM), so it cannot block a group.
// Extension values arrive as strings, as with every binary binding.
//
// # Groups and delivery
//
// An unordered group is one durable pull consumer of the topic's stream,
// named after the group (the same token as topics), with explicit acks,
// AckWait from the creating member's SubscribeOptions.AckDeadline,
// MaxDeliver unlimited and MaxAckPending the larger of that member's
// MaxInFlight and max_ack_pending. It is created by the group's first
// Subscribe with a deliver policy from StartFrom: Latest is DeliverNew,
// Earliest DeliverAll, AtTime DeliverByStartTime, AtOffset(o)
// DeliverByStartSequence o+1 (clamped to the next sequence when past the
// end, so that such a group starts at the next event). Later Subscribes use
// the existing consumer and its place. Each member pulls for itself with
// its own inbox and long pull requests (30s, heartbeats every 5s), never
// asking for more than its free in-flight slots: the bus, not the server,
// enforces each member's MaxInFlight, counting the deliveries it has
// received for the member but not yet handed out.
//
// Attempt is the message's delivery count (NumDelivered); Offset (the
// deliveries implement bus.Offsetter) is the stream sequence less one,
// which numbers the topic's events from 0 because a stream holds exactly
// one topic. Ack is +ACK; Nack is -NAK, which the server redelivers at
// once. Closing a member (or its Subscribe context ending, or Close of the
// bus) NAKs its unsettled deliveries, including those it had received but
// not yet handed out, after draining its inbox so that messages already on
// their way are caught too; a later Ack of them still counts.
//
// # Ack deadlines
//
// The server redelivers a message AckWait after it sent it. The contract
// counts the deadline from when the member receives the delivery, so the
// bus keeps the server's timer in step: while a delivery waits to be handed
// out it sends +WPI (in progress) every half AckWait, and at hand-off it
// restarts the timer (+WPI) if AckWait is under 5s or the delivery waited
// more than a fiftieth of AckWait; otherwise Deadline reports the server's
// deadline less that fiftieth, a margin for the time on the wire. A
// member whose AckDeadline differs from the consumer's AckWait (a later
// member of an existing group) sets its own at hand-off with a delayed NAK
// (-NAK {"delay": d}), which JetStream treats as "redeliver d from now"
// while keeping the message pending, so that an Ack before then counts
// normally. ExtendDeadline(d) uses the same delayed NAK, so the deadline
// becomes exactly now+d, shorter or longer than AckWait; +WPI, the usual
// in-progress signal, could only restart the full AckWait. JetStream
// accepts any positive AckWait (a 20ms AckWait redelivers after about 22ms:
// the server checks its timers a millisecond late); the bus raises
// deadlines below 10ms to 10ms (Features.MinAckDeadline), below which a
// delivery would expire about as soon as it arrives.
//
// # Ordering
//
// Features.OrderedByKey is true. An ordered group is one durable consumer
// per partition, filtered on the partition's subject, with MaxAckPending 1:
// the server hands out a partition's next event, to any member, only when
// the previous one is acknowledged; a NAKed or expired event is redelivered
// before the partition's later events. Events of one key share a partition,
// so they arrive in publish order, one at a time, across members and
// processes. Unrelated keys that share a partition wait for each other,
// and events without a key are spread over the partitions by id, so an
// ordered group delivers at most "partitions" events at once. A member with
// at least as many in-flight slots as partitions keeps a long pull on every
// partition; one with fewer (MaxInFlight < partitions) polls them in turns
// with short pulls (250ms), serving partitions that just had an event
// first, so an event on an idle partition can wait about
// partitions/MaxInFlight×250ms. A group's mode is fixed when it is created:
// subscribing to an unordered group with Ordered (or the other way round)
// returns ErrGroupMismatch, even with no member live, until the group is
// deleted. (JetStream has no per-key or per-subject MaxAckPending, so
// per-key order with a single consumer would need the members of all
// processes to coordinate; partition consumers let the server do it.)
//
// # Deletion
//
// DeleteGroup (bus.GroupDeleter) deletes the group's consumer(s); DeleteTopic
// the stream. Live subscriptions of this bus end at once (Err nil for a
// deleted group, ErrTopicNotFound for a deleted topic). Those of other
// processes end when they notice: their pulls get "consumer deleted", or
// fall silent, or their check every 30s finds the consumer gone; a stream
// that exists but was created after the subscription counts as deleted.
//
// # Connection
//
// nats.go reconnects by itself, forever, every reconnect_wait. While the
// connection is down, Publish waits for it (until its context ends) and
// re-publishes whatever was not acknowledged; subscriptions stay live and
// pull again on fresh inboxes when it is back (deliveries that were on
// their way come again after AckWait, perhaps with Attempt 1 if the server
// restarted); Acks sent meanwhile are buffered by the client (8 MiB) and
// sent on reconnection. Durable: true — streams and consumers are stored
// by the server, so acknowledged events and the groups' places survive a
// restart of the process, of the connection and (file storage) of the
// server. The server acknowledges a publish once it has written it to its
// file store (on a quorum of replicas); a single server syncs its files to
// disk every two minutes by default, so surviving a crash of the server's
// machine, rather than of its process, needs replicas >= 3 or the server's
// sync_interval set to always. The bus uses the account's default
// JetStream API ($JS.API): JetStream domains are not supported.
//
// Known server issue: nats-server 2.9 mishandles a redelivery when the only
// pull requests waiting on the consumer are stale (their inbox has lost
// interest, as when a process dies): the consumer steps its sequence back,
// delivering the stream's newest message again, and the redelivered message
// waits for another AckWait. Nothing is lost; the bus avoids the case when
// it closes members itself, by asking for consumer info (which purges stale
// requests) before NAKing.
//
// # Configuration
//
// ParseConfig reads a Bus resource. Plain settings (config):
//
//	url              NATS URL(s), comma-separated: nats://host:4222, tls://…  (required;
//	                 no credentials in it)
//	name             client connection name (default eddy)
//	subject_prefix   first subject tokens (default eddy)
//	stream_prefix    start of stream names (default eddy_; may be empty)
//	replicas         stream replicas, 1-5 (default 1)
//	max_age          stream retention by age, Go duration; 0 = forever (default 168h)
//	max_bytes        stream retention by size, bytes or 512MiB, 10GB…; 0 or -1 = none
//	                 (default 1GiB)
//	partitions       partitions of new topics, 1-256 (default 16)
//	ack_deadline     default AckDeadline (default 30s)
//	max_in_flight    default MaxInFlight (default 256)
//	max_ack_pending  MaxAckPending of new unordered groups (default 10000)
//	tls              true to use TLS with the system's roots (implied by tls://
//	                 URLs and TLS material in the secret)
//	tls_server_name  server name to verify
//	connect_timeout  per connection attempt (default 5s)
//	reconnect_wait   between reconnection attempts (default 1s)
//	ping_interval    client pings; two unanswered mean a dead connection (default 10s)
//
// Credentials (secret), at most one kind: token; username and password;
// creds (the content of a .creds file: user JWT and NKey seed); nkey (an
// NKey user seed). TLS material: ca (PEM roots), cert and key (PEM client
// certificate and key, for mutual TLS). Unknown keys, and keys in the wrong
// map, are errors naming the key. Secrets are never logged nor put in
// errors; Config's String, GoString and LogValue redact them.
//
// # Features
//
//	Durable         true: file-stored streams and durable consumers.
//	OrderedByKey    true: partition consumers with MaxAckPending 1 (above).
//	Replay          true: DeliverAll and DeliverByStartTime.
//	Offsets         true: the stream sequence less one; DeliverByStartSequence.
//	AckDeadline     true: AckWait, kept in step at hand-off, delayed NAKs.
//	MinAckDeadline  10ms (above).
//	MaxEventBytes   the server's max_payload (1 MiB by default) less 1 KiB kept
//	                for the headers the bus adds, counted on the encoded message
//	                (headers and payload).
package nats
