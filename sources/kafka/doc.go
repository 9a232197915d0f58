// Package kafka is the adapter of KafkaSource (sources.knative.dev/v1beta1): it consumes Kafka
// topics as a member of a consumer group, with the IBM/sarama client, and sends an event per
// record. It is tested against kfake, an in-process cluster speaking the Kafka protocol.
//
// # Events
//
// ToEvent is the mapping. A record in the CloudEvents Kafka protocol binding, binary mode
// (ce_ headers) or structured mode (content-type application/cloudevents+json), decoded with
// sdk-go's kafka_sarama binding, is sent as the event it carries, unchanged. Every other
// record becomes a dev.knative.kafka.event as Knative's KafkaSource makes it:
//
//	id              partition:<partition>/offset:<offset>
//	source          /apis/v1/namespaces/<namespace>/kafkasources/<name>#<topic>
//	subject         partition:<partition>#<offset>
//	time            the record's timestamp
//	datacontenttype the record's content-type header, if any
//	data            the record's value (none for a tombstone)
//	key             the record key, typed by Config.KeyType (Knative's key-type label):
//	                string (default), int (big-endian), float (IEEE 754) or byte-array
//	partitionkey    the record key as text (base64 for bytes)
//	kafkaheader<h>  every header whose value is text; <h> is the header's key lowercased
//	                with everything but letters and digits removed
//
// A record that claims to be a CloudEvent (a ce_specversion header, or the structured
// content type) but does not decode to a valid one is wrapped the same way, as Knative does,
// rather than lost or retried for ever.
//
// # Delivery and offsets
//
// Each partition's records are sent in order, one at a time: the next waits until the sink
// took the one before. A record is marked for commit only after the Sender returned nil for
// its event, and marked offsets are committed every Config.CommitInterval and when the
// adapter stops or loses the partition in a rebalance, so delivery is at least once: records
// sent but not yet committed when the adapter dies are sent again by the next member. When
// the Sender gives up (after the source's own delivery policy), the adapter sends the same
// event again after Config.RetryBackoff, doubling up to Config.MaxRetryBackoff, holding the
// partition meanwhile; it never skips a record. Partitions are consumed concurrently.
//
// A new consumer group starts at the newest records of each partition, or the oldest with
// InitialOffset "earliest" (it applies only to partitions without a committed offset).
//
// # Connection
//
// TLS (a CA, and a client certificate and key for mutual TLS) and SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512) take the bytes of the source's secrets. Run retries what
// fails on the way (brokers out of reach, wrong credentials, missing topics) with backoff
// and logs it; passwords and keys are never logged nor part of an error, and Config prints
// them redacted.
//
// # Metrics
//
// With Config.Registerer set: eddy_kafkasource_events_received_total (records consumed),
// eddy_kafkasource_events_sent_total (events the sink took) and
// eddy_kafkasource_events_failed_total (send attempts that failed), labelled with the
// source's namespace and name; removed when Run returns.
package kafka
