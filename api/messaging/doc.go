// Package messaging holds the kinds of Knative's messaging.knative.dev/v1 group: Channel,
// InMemoryChannel and Subscription, with their defaulting, validation and condition helpers.
// Their JSON shapes are Knative's, so Knative YAML decodes strictly into them.
//
// # Buses
//
// Eddy carries a channel's events on a bus (stub, kafka, rabbitmq, pubsub, nats), one topic
// per channel. Knative has no such notion; Eddy adds it without new fields. A Channel (and a
// Broker, see package eventing) picks its bus, in this order:
//
//  1. the annotation messaging.knative.dev/bus, whose value is a BusRef:
//     "Bus/NAME" names a Bus (channels.knative.dev/v1alpha1) in the channel's namespace,
//     "ClusterBus/NAME" names a ClusterBus, and a bare "NAME" names the ClusterBus NAME if one
//     exists, else the built-in bus of that type with its default settings (so "kafka" works
//     with no ClusterBus at all, and an operator can tune it by creating ClusterBus "kafka");
//  2. else spec.channelTemplate's kind: InMemoryChannel → default, KafkaChannel → kafka,
//     NatssChannel and NatsJetStreamChannel → nats, messaging.cloud.google.com Channel →
//     pubsub (see ChannelTemplateBus). A template of any other kind is rejected unless the
//     annotation names the bus;
//  3. else the default bus, "default": the ClusterBus "default" if one exists, else the bus
//     `eddy up` was started with (the stub bus unless --bus says otherwise). Defaulting fills spec.channelTemplate with
//     messaging.knative.dev/v1 InMemoryChannel, as Knative's default channel does.
//
// The bus annotation and spec.channelTemplate are immutable: moving a channel to another bus
// would strand the events already on the old one. Unlike Knative, a Channel creates no
// backing channel object: status.channel stays empty, and the condition BackingChannelReady
// reports the channel's topic on its bus.
//
// An InMemoryChannel is a Channel on the default bus: same spec (subscribers, delivery), same
// status, same conditions. Eddy's stub bus keeps events on disk, so unlike Knative's
// in-memory channel it loses nothing on a restart.
//
// # Conditions
//
// Channel and InMemoryChannel: Ready follows BackingChannelReady (the channel's topic exists on
// its bus), Addressable (status.address.url is set) and DeadLetterSinkResolved (True when
// spec.delivery.deadLetterSink resolved into status.deadLetterSinkUri, or when there is none).
//
// Subscription: Ready follows ReferencesResolved (spec.subscriber, spec.reply and the
// dead-letter sink resolved into status.physicalSubscription), AddedToChannel (the subscriber
// is in the channel's spec.subscribers) and ChannelReady (the channel reports the subscriber
// ready). Knative's OIDCIdentityCreated is left out: Eddy has no OIDC identities.
//
// # The 2018 forms
//
// The channels.knative.dev/v1alpha1 kinds (Channel, Subscription, Bus, ClusterBus) live in the
// sub-package channelsv1alpha1, which converts Channel and Subscription into this package's
// kinds.
package messaging
