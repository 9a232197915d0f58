// Package eventing holds the kinds of Knative's eventing.knative.dev group: Broker and Trigger
// (version v1) and EventType (version v1beta2), with their defaulting, validation and condition
// helpers. Their JSON shapes are Knative's, so Knative YAML decodes strictly into them.
//
// # Defaults
//
// A Broker gets Knative's defaults (those of Knative's config-br-defaults):
//   - the class annotation eventing.knative.dev/broker.class: MTChannelBasedBroker. Eddy
//     serves every class itself; the class only chooses the bus (below);
//   - spec.delivery, when the Broker has none: retry 10, backoffPolicy exponential,
//     backoffDelay PT0.2S (see DefaultBrokerDelivery). A Broker that sets spec.delivery keeps
//     exactly what it set: defaults are not merged field by field. The broker's delivery spec
//     applies to each Trigger that sets no delivery field of its own; a Trigger that sets any
//     delivery field uses its own spec.delivery alone (duck.EffectiveDelivery).
//   - the namespaces of spec.config and of the dead-letter sink's ref, when empty.
//
// A Trigger gets spec.filter {} (every event passes) when it has none, the label
// eventing.knative.dev/broker naming its broker, and the namespace of its subscriber's and
// dead-letter sink's refs.
//
// # Buses
//
// A Broker's events are carried on a bus, chosen like a Channel's (see package messaging):
// the annotation messaging.knative.dev/bus when set, else the class (Kafka and
// KafkaNamespaced → kafka, RabbitMQBroker → rabbitmq, googlecloud → pubsub), else the stub
// bus. spec.config is carried and validated but not read to choose a bus. The class annotation,
// the bus annotation and spec.config are immutable.
//
// # Filters
//
// spec.filter.attributes is Knative's exact match on attributes (every key must be present;
// an empty value matches any value). spec.filters are CloudEvents Subscriptions API filter
// expressions: each has exactly one dialect (all, any, not, exact, prefix, suffix or cesql);
// exact, prefix and suffix hold exactly one attribute with a non-empty value; all and any hold
// at least one expression; cesql must parse as CloudEvents SQL
// (github.com/cloudevents/sdk-go/sql/v2). When both are set, filters wins, as in Knative.
//
// # Conditions
//
// Broker: Ready follows IngressReady (the ingress accepts events for the broker),
// TriggerChannelReady (the broker's topic exists on its bus), FilterReady (the dispatcher that
// evaluates its triggers runs), Addressable and DeadLetterSinkResolved.
//
// Trigger: Ready follows BrokerReady, SubscriptionReady (the trigger's consumer group is set up
// on the broker's bus), DependencyReady (the source named by the knative.dev/dependency
// annotation is ready, or there is none), SubscriberResolved and DeadLetterSinkResolved.
//
// EventType: Ready follows ReferenceExists (spec.reference names an existing object).
package eventing
