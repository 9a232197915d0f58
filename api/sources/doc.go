// Package sources holds the kinds of Knative's event sources, with their defaulting,
// validation and condition helpers: GitHubSource (sources.knative.dev/v1alpha1, the shape of
// knative-extensions/eventing-github), ApiServerSource and PingSource (sources.knative.dev/v1),
// KafkaSource (sources.knative.dev/v1beta1, the shape of eventing-kafka-broker) and
// CloudPubSubSource (events.cloud.google.com/v1, the shape of google/knative-gcp). Their JSON
// shapes are Knative's, so Knative YAML decodes strictly into them. It also registers the 2018
// feeds.knative.dev kinds of package feedsv1alpha1 and converts a Feed to the source it runs
// as (FeedToV1).
//
// Every source embeds duck.SourceSpec (spec.sink, a Destination: ref, uri or both, required;
// spec.ceOverrides.extensions, whose names must be CloudEvents attribute names and may not be
// id, source, specversion or type) and duck.SourceStatus (status.sinkUri, status.ceAttributes
// and the conditions).
//
// # Versions
//
// Besides its storage version, a kind is served under the versions Knative's documentation
// writes with the same schema: ApiServerSource v1beta1, PingSource v1beta2 and KafkaSource v1
// (stored as v1beta1). Knative defines no short names for these kinds; neither does Eddy.
//
// # Defaults
//
//   - GitHubSource: spec.githubAPIURL https://api.github.com/ (Knative leaves it empty and
//     means the same).
//   - ApiServerSource: spec.mode Reference, spec.serviceAccountName default.
//   - PingSource: spec.schedule "* * * * *".
//   - KafkaSource: spec.consumers 1, spec.initialOffset latest, spec.ordering ordered, and
//     spec.consumerGroup knative-kafka-source-<uid> once the object has a UID (Knative uses a
//     random UUID; ConsumerGroupName gives the group before the UID is known).
//   - CloudPubSubSource: spec.ackDeadline 30s, spec.retentionDuration 168h0m0s, and spec.secret
//     google-cloud-key/key.json when neither a secret nor a service account is named.
//   - All: the namespace of spec.sink.ref (and of a KafkaSource's dead-letter sink).
//
// # Validation
//
// Errors carry field paths from the object's root. Beyond Knative's rules (required sink,
// resources, topics, bootstrap servers; mode, initialOffset and ordering values; schedule and
// timezone; data xor dataBase64; durations within Knative-GCP's bounds; secret xor service
// account), Eddy checks what Knative leaves to the reconciler: GitHub owner and repository
// names, GitHub webhook event names (IsGitHubEventType: every event GitHub documents, where
// Knative's CRD lists 34; unknown names such as "pullrequest" are rejected, as GitHub would
// refuse the webhook), Secret references (name and key), host:port bootstrap servers, Kafka
// topic names, Pub/Sub topic and project IDs, label selectors, and the key-type label. A
// PingSource schedule is parsed with github.com/robfig/cron/v3's standard parser as Knative
// does (see ParseSchedule); time zones come from the embedded tz database, so validation does
// not depend on the host. With content type application/json (or +json), data must be JSON
// (any value; Knative requires an object).
//
// Update rules: a GitHubSource's ownerAndRepository and githubAPIURL (the webhook belongs to
// them), a KafkaSource's consumer group, and a CloudPubSubSource's topic, project, secret and
// service account are immutable.
//
// # Conditions
//
// Ready follows, with Knative's names:
//   - GitHubSource: SecretsProvided, SinkProvided, WebhookConfigured.
//   - ApiServerSource: SinkProvided, Deployed, SufficientPermissions.
//   - PingSource: SinkProvided, Deployed.
//   - KafkaSource: SinkProvided, Deployed, ConnectionEstablished, InitialOffsetsCommitted.
//   - CloudPubSubSource: SinkProvided, PullSubscriptionReady (Knative-GCP reports only the
//     latter, propagated from the PullSubscription it creates; Eddy pulls itself).
//
// Knative's OIDCIdentityCreated is left out: Eddy's sources do not mint OIDC tokens. Each
// status has MarkSink and MarkNoSink (which keep Ready consistent with the kind's own set) and
// Mark helpers for its other conditions, and each kind a CloudEventAttributes method for
// status.ceAttributes.
//
// # The 2018 feeds
//
// A feeds.knative.dev/v1alpha1 Feed runs as the v1 source FeedToV1 returns, chosen by
// spec.trigger.service (or, when empty, by the event type's prefix):
//
//	Feed field                        github → GitHubSource      k8sevents → ApiServerSource             gcppubsub → CloudPubSubSource
//	metadata                          copied                     copied                                  copied
//	spec.serviceAccountName           spec.serviceAccountName    spec.serviceAccountName                 dropped (means workload identity there)
//	spec.trigger.eventType            spec.eventTypes[0]         mode Resource, resources [v1 Event]     checked only
//	spec.trigger.resource             spec.ownerAndRepository    dropped (informational)                 spec.project, spec.topic
//	parameters.secretName/secretKey   spec.accessToken/secretToken (keys accessToken, secretToken)
//	parameters.namespace                                         spec.namespaceSelector (other namespace)
//	parameters.projectID/topic                                                                           spec.project, spec.topic
//	spec.trigger.parametersFrom[0]    Secret of the tokens       error                                   error
//	spec.action.routeName             spec.sink.ref serving.knative.dev/v1 Route
//	spec.action.channelName           spec.sink.ref channels.knative.dev/v1alpha1 Channel (a name, or NAME-channel.NS.svc.cluster.local), else uri http://NAME
//	spec.action.dnsName               spec.sink.uri http://DNSNAME
//	status (shared part)              status                     status                                  status
//	status.feedContext                the kind's own status fields (webhookIDKey; namespaces; projectId, topicId, subscriptionId)
//
// Event types: GitHub's pullrequest (or dev.knative.github.pullrequest) becomes pull_request,
// and any GitHub webhook event name is accepted with or without the dev.knative.github.
// prefix; k8sevents takes dev.knative.k8s.event (and its .create-style subtypes, unfiltered);
// gcppubsub takes receive and google.pubsub.topic.publish. A parameter, a parametersFrom or an
// event type with no counterpart is an error that names the feed's field; so is a mapped
// value the v1 kind rejects (such as the placeholder resource "<org>/<repo>"). The 2018 GitHub
// Secret held both tokens as one JSON object under one key; GitHubSource reads one token per
// key, so that Secret needs the keys accessToken and secretToken. SetFeedStatus copies the v1
// source's status back onto the feed. Admission checks a feed's shape only: a feed whose
// event source Eddy does not run is stored, and the conversion error is for the reconciler
// to report (FeedStatus.MarkNotReady).
package sources
