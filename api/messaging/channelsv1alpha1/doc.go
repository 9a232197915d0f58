// Package channelsv1alpha1 holds the 2018 forms of Knative eventing, group
// channels.knative.dev, version v1alpha1: Channel (on a Bus or ClusterBus, with arguments),
// Subscription (channel, subscriber and replyTo as plain strings) and the Bus and ClusterBus
// that say which backend carries channels and with which settings.
//
// # How the 2018 kinds map onto the v1 model
//
// The registry has no "served under one group, stored as another group's kind", and the API
// server files an object under the group of its URL, so these kinds are stored as they are:
// each is a kind of group channels.knative.dev whose only (and storage) version is v1alpha1.
// Channel and Subscription are run as their messaging.knative.dev/v1 counterparts:
//
//   - Channel.ToV1 and Subscription.ToV1 return the v1 object with the same metadata, the v1
//     defaults applied, and the same status. The reconcilers watch both groups, run the v1
//     logic on ToV1's result and write the status it computed back onto the v1alpha1 object:
//     the status types are the v1 ones (messaging.ChannelStatus and
//     messaging.SubscriptionStatus), so the status is copied as it is. Nothing extra is
//     stored. A bus topic must be keyed by the channel's group as well as its namespace and
//     name, since a v1alpha1 and a v1 Channel may share a name.
//   - spec.bus NAME becomes the bus annotation "Bus/NAME" (the Bus NAME in the channel's
//     namespace), spec.clusterBus NAME becomes "ClusterBus/NAME", and neither leaves the v1
//     default (the stub bus). spec.arguments become the messaging.ArgumentsAnnotation.
//   - A Subscription's spec.channel NAME becomes a reference to the channels.knative.dev
//     v1alpha1 Channel NAME. spec.subscriber and spec.replyTo become destinations: an
//     http(s) URL is the uri; a bare name (a DNS label such as "message-dumper") is a ref to
//     the serving.knative.dev/v1 Service of that name; a DNS name with dots, as the 2018 API
//     documented ("the subscriber service DNS name"), is the uri http://NAME/.
//
// Bus and ClusterBus (cluster-scoped) are Eddy's bus configuration objects, referred to by the
// bus annotation of v1 Channels and Brokers too. Besides the 2018 fields, kept loosely typed
// (spec.parameters declares the arguments channels and subscriptions pass; spec.provisioner,
// spec.dispatcher and spec.volumes are raw container and volume specs, accepted and ignored),
// a bus has Eddy's fields: spec.type (stub, kafka, rabbitmq, pubsub or nats, inferred for the
// 2018 manifests from the bus name or the dispatcher image), spec.config (the backend's
// settings, such as Kafka's bootstrap servers) and spec.secretRef, the Secret that holds the
// connection credentials. Credentials are never plain fields: validation rejects config keys
// that look like secrets and URLs that carry a password.
//
// The unqualified names "channel" and "subscription" resolve to the messaging.knative.dev
// kinds (these kinds are registered as Legacy); write "channels.channels.knative.dev" to list
// the 2018 ones.
package channelsv1alpha1
