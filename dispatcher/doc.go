// Package dispatcher is the delivery engine between a bus and subscribers: one consumer group
// per Subscription or Trigger, HTTP delivery of CloudEvents with retry and backoff, dead-letter
// sinks, replies and ordering. Delivery policy lives here once, not in each bus.
//
// # Use
//
// A process makes one [Dispatcher] with [New]; it owns the pooled
// keep-alive HTTP client and the metrics. [Dispatcher.Start] joins a consumer
// group of a bus topic and returns a [Consumer] that delivers the group's
// events to one [Subscriber] (a resolved Subscription or Trigger) until
// [Consumer.Stop]. [Consumer.Update] changes the destinations, the [Policy]
// and the filter live.
//
// # Delivery (the Knative data-plane rules)
//
// Each event is POSTed in CloudEvents binary mode to the subscriber with
// "Prefer: reply"; the traceparent and tracestate extensions are also sent
// as the W3C Trace Context headers. Every attempt is bounded by
// [Policy.Timeout].
//
//   - 2xx is success. Only a 200 can carry a reply event (binary or
//     structured); a 202 body, or a body that is not a CloudEvent, is just
//     success.
//   - 404, 408, 409, 429, 5xx, codes outside the HTTP table, timeouts and
//     network errors are retried, at most [Policy.Retry] times, after
//     [Policy.Backoff]; on 429 and 503 a Retry-After header (seconds or an
//     HTTP date), capped by [Policy.RetryAfterMax], can lengthen the wait.
//   - 1xx, 3xx (redirects are never followed) and the other 4xx are not
//     retried: the event goes straight to the dead-letter sink.
//
// Retries wait on timers while the bus delivery stays unsettled, so the
// event is not lost if the process dies meanwhile: the bus delivers it again
// (at least once). Each delivery has its own goroutine; one slow event holds
// only its own in-flight slot (and, in ordered mode, its partition key).
//
// # Replies
//
// When the subscriber answers 200 with an event and the Subscriber has a
// ReplyURI, the reply is sent there with the same policy (it inherits the
// original's trace context if it has none). A reply never goes to the
// dead-letter sink: if it cannot be delivered, the original event goes
// there, with knativeerrordest set to the reply URL. A malformed reply is a
// failed delivery (not retried: the subscriber did its work). Without a
// ReplyURI, replies are discarded. A Subscriber without SubscriberURI sends
// the event itself to ReplyURI.
//
// # Dead letters and drops
//
// An event that cannot be delivered goes, unchanged but for the extensions
// knativeerrordest, knativeerrorcode and knativeerrordata
// ([ErrorDestExtension], [ErrorCodeExtension], [ErrorDataExtension]), to the
// Subscriber's DeadLetterURI, with the same policy. If the dead-letter sink
// fails too, the delivery is nacked after [Config.RedeliveryDelay] and the
// bus delivers it again later: the event is never dropped. Without a
// dead-letter sink the event is dropped, as Knative does, but never
// silently: it is counted, logged at warn level (id, type and source, never
// the data) and reported to [Config.OnDrop].
//
// # Settlement
//
// Every delivery from the bus is settled exactly once: Ack when the event was
// delivered (and its reply forwarded), dead-lettered, dropped, or filtered
// out by [Subscriber.Filter]; Nack when the dead-letter sink failed, or when
// the consumer stops before the event's fate is decided.
//
// # Metrics
//
// Registered on [Config.Registerer], all with the labels kind, namespace and
// name of the Subscriber:
//
//	eddy_dispatcher_events_delivered_total       delivered (2xx, reply forwarded)
//	eddy_dispatcher_events_dead_lettered_total   accepted by the dead-letter sink
//	eddy_dispatcher_events_dropped_total         given up without a dead-letter sink
//	eddy_dispatcher_events_nacked_total          handed back to the bus: the dead-letter sink failed
//	eddy_dispatcher_events_filtered_total        skipped by the filter
//	eddy_dispatcher_replies_sent_total           replies forwarded
//	eddy_dispatcher_attempts_failed_total        failed attempts, by destination
//	eddy_dispatcher_retries_total                retries, by destination
//	eddy_dispatcher_delivery_duration_seconds    first attempt to outcome, by outcome
//	eddy_dispatcher_attempt_duration_seconds     one attempt, by destination
//
// destination is subscriber, reply or dead_letter; outcome is delivered,
// dead_lettered, dropped or nacked. A Subscriber's series are deleted when
// its last consumer stops.
package dispatcher
