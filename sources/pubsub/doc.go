// Package pubsub is the adapter of CloudPubSubSource (Knative-GCP's
// events.cloud.google.com/v1 kind): it reads a Google Cloud Pub/Sub topic through a
// subscription and emits one CloudEvent per message, with the v2 Go client
// (cloud.google.com/go/pubsub/v2). It works with Google Cloud, the gcloud emulator and pstest
// (Config.Endpoint or PUBSUB_EMULATOR_HOST), against which it is tested.
//
// # Events
//
// Each message becomes an event as Google's own sources (Eventarc, Knative-GCP) make it:
//
//	type             google.cloud.pubsub.topic.v1.messagePublished
//	source           //pubsub.googleapis.com/projects/<project>/topics/<topic>
//	id               the message id
//	time             the publish time
//	datacontenttype  application/json
//	data             {"subscription": "projects/<project>/subscriptions/<id>",
//	                  "message": {"data": <base64>, "attributes": {...}, "messageId": ...,
//	                              "publishTime": ..., "orderingKey": ...},
//	                  "deliveryAttempt": n}
//
// The data follows google-cloudevents' MessagePublishedData schema: empty attributes, data and
// ordering key are left out, and deliveryAttempt appears only when Pub/Sub counts attempts
// (subscriptions with a dead-letter policy). Attributes stay inside the data and do not
// become extensions, as in Google's recorded examples. MessagePublishedData decodes this
// data, and the push bodies Pub/Sub sends, for receivers.
//
// # Subscription
//
// With Config.SubscriptionID the adapter reads through that existing subscription, which must
// be on Config.Topic. Without one, Run creates DefaultSubscriptionID(namespace, name) on the
// topic (ack deadline Config.AckDeadline, retention as configured, labelled
// managed-by=eddy) unless it exists, and reuses it on later runs, so that messages published
// while the adapter is stopped are not lost. It is deleted by DeleteSubscription, which the
// reconciler calls when the source is deleted, not when Run returns.
//
// # Delivery
//
// The adapter pulls with the unary Pull call rather than the client's StreamingPull-based
// Receive (the repository's Pub/Sub bus does the same and explains why in its doc: pstest
// feeds a streaming pull about 60 messages a second, and Receive manages leases and
// concurrency by itself). At most Config.MaxInFlight messages are held at once. A message is
// acknowledged only after the Sender returned nil for its event; otherwise it is nacked
// (ModifyAckDeadline 0) and Pub/Sub delivers it again (the Sender already retried per the
// source's delivery policy). Messages of one ordering key pulled together are sent in order,
// and when one fails the ones after it are nacked unsent. The ack deadline of every held
// message is extended every third of Config.AckDeadline, so a slow sink causes no
// duplicates; an adapter that dies leaves its messages to come again when their deadline
// passes. Delivery is at least once.
//
// # Errors and credentials
//
// Passing failures (network, Unavailable, ...) are retried with backoff and logged. Run
// returns an error when a retry cannot help: the topic or subscription does not exist or was
// deleted, the subscription reads another topic, permission is denied. The service account key
// (Config.CredentialsJSON) is never logged nor quoted in errors; Config prints it redacted.
//
// # Metrics
//
// With Config.Registerer set: eddy_pubsubsource_events_received_total (messages pulled),
// eddy_pubsubsource_events_sent_total and eddy_pubsubsource_events_failed_total, labelled
// with the source's namespace and name; removed when Run returns.
package pubsub
