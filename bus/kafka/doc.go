// Package kafka is an Eddy bus on Apache Kafka (or any broker that speaks
// its protocol), built on the IBM/sarama client. It implements bus.Bus and
// bus.GroupDeleter and passes bus/bustest.
//
// # Topics
//
// A bus topic is a Kafka topic named Config.TopicPrefix + the topic name
// (bus names are already valid Kafka names; the prefix is at most 49
// characters so that the result fits Kafka's 249). EnsureTopic creates it
// through the admin API with Config.Partitions partitions and
// Config.ReplicationFactor replicas; Kafka treats '.' and '_' in topic
// names alike, so "a.b" and "a_b" collide, and the second EnsureTopic fails
// with an error wrapping bus.ErrInvalidName. DeleteTopic deletes the Kafka
// topic through the admin API, ends the topic's subscriptions in this
// process with bus.ErrTopicNotFound and deletes the topic's consumer
// groups; subscriptions in other processes end with bus.ErrTopicNotFound
// when their consumer notices the topic is gone.
//
// # Publishing
//
// Publish encodes each event in the Kafka Protocol Binding's binary mode
// (one ce_ header per attribute and extension, datacontenttype in the
// content-type header, the data as the record value) with the event's
// partition key (the "partitionkey" extension) as the record key, so the
// Java client's murmur2 partitioner puts all events of a key in one
// partition, in publish order. Events without a key are spread at random.
// One idempotent producer per Bus writes with acks from all in-sync
// replicas (RequiredAcks=WaitForAll), and Publish returns nil only once
// every event of the call is acknowledged; a batch is not atomic. When a
// topic was deleted and created again, the brokers refuse the producer's
// sequence numbers; the bus then starts a new producer and retries the
// refused events once.
//
// # Groups and delivery
//
// A bus group is a Kafka consumer group with id prefix + topic + "/" +
// group, and each Subscribe is one member with its own client, sharing the
// topic's partitions with the group's other members (round-robin
// assignment, eager rebalancing). A group is created by the first
// Subscribe that finds no committed offsets for it: that Subscribe
// resolves opts.StartFrom into an offset per partition (the newest, the
// oldest, or, for bus.AtTime, the first record with a timestamp at or after
// the time, through the ListOffsets API) and commits them before it
// returns, so the group sees every event published afterwards even before
// the member has joined.
//
// A member reads each partition it owns in order and keeps a window of its
// records, from the oldest one not acknowledged to the newest one read
// (at most Config.PartitionWindow; reading pauses while it is full). It
// hands them out on Deliveries, at most MaxInFlight unsettled at once,
// redeliveries first. Ack marks a record done; the member commits the
// offset of the oldest record of the partition not yet acknowledged (every
// Config.CommitInterval), never an offset beyond an unacknowledged record:
// delivery is at least once. Nack puts the record back to be delivered
// again at once, to the same member (which owns its partition), with
// Attempt one higher; records after it are delivered and acknowledged
// meanwhile, only the committed offset waits for it. The ack deadline is a
// client-side timer per delivery, started when the member receives it:
// when it passes unsettled, the record is delivered again as if nacked.
// Deliveries implement bus.DeadlineExtender.
//
// When a partition is revoked by a rebalance, the member stops handing its
// records out, waits until the deliveries it has out are settled (at most
// their ack deadline and half Config.RebalanceTimeout), and then commits
// the partition's oldest unacknowledged offset. The metadata of that commit
// carries notes for the next owner: which later records were already
// acknowledged (so they are not delivered again) and how often the others
// were delivered (so Attempt keeps counting). A member that closes, or
// whose bus closes, does the same without waiting. The next owner reads
// again from the committed offset. Notes are capped to fit Kafka's default
// offset.metadata.max.bytes; what does not fit, or an ack that comes after
// the hand-over, costs a duplicate, never an event.
//
// # Ordering
//
// Kafka keeps the records of a key in order in one partition, and one
// member at a time owns a partition. An ordered member (SubscribeOptions
// Ordered) additionally hands out one record per key at a time: the key's
// next record waits, in the member's window, until the previous one is
// acknowledged; a nacked or expired record is redelivered before it. The
// group's members must agree on Ordered: the member's partition assignment
// strategy is named after it, so the coordinator refuses a member that
// differs (INCONSISTENT_GROUP_PROTOCOL), and Subscribe checks the members
// in this process and the group's current protocol first, failing with
// bus.ErrGroupMismatch. Ordering across a rebalance holds while the
// deliveries of the revoked partitions are settled within the wait above.
//
// # Replay and offsets
//
// New groups can start at bus.Earliest (the oldest retained record) or
// bus.AtTime (record timestamps are the publish time). Features.Offsets is
// false: a topic is several partitions, each its own log, so it has no
// single offset sequence. (A single-partition topic would be one, but
// then only one member of a group could receive its events: Kafka gives a
// partition to one member at a time.)
//
// # Durability
//
// Events are durable once all in-sync replicas acknowledged them, and a
// group's place is its committed offsets, kept by Kafka; a new Bus on the
// same cluster resumes every group where it was committed
// (Features.Durable). Unacknowledged deliveries are delivered again after
// a restart. Kafka's retention deletes old records whatever the groups
// have read; a group behind the retained log starts at the oldest record
// left.
//
// # Features
//
// Durable, OrderedByKey, Replay and AckDeadline are true, with no minimum
// ack deadline (the timer is the client's); Offsets is false, as above.
// MaxEventBytes is Config.MaxEventBytes (counting the record's key, value
// and headers); the brokers' message.max.bytes must allow it.
//
// # Configuration
//
// ParseConfig reads a Bus resource's settings; see it for the keys
// (brokers, topicPrefix, partitions, replicationFactor, clientID,
// kafkaVersion, tls.*, sasl.mechanism and the tuning durations) and the
// secret's keys (ca.crt, tls.crt, tls.key, username, password). TLS and
// SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 are supported. Credentials
// never appear in logs or errors.
package kafka
