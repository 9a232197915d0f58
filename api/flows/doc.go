// Package flows holds the kinds of Knative's flows.knative.dev/v1 group: Sequence (events pass
// through steps in order, each step's reply going to the next) and Parallel (every event goes
// to each branch, through the branch's filter to its subscriber). Both are made of Channels and
// Subscriptions created by their reconcilers; their JSON shapes are Knative's.
//
// Defaulting fills spec.channelTemplate with messaging.knative.dev/v1 InMemoryChannel (the
// stub bus) and the namespaces of destination refs. A spec.channelTemplate of a kind Eddy does
// not know (see messaging.ChannelTemplateBus) is rejected unless the object carries the bus
// annotation messaging.knative.dev/bus, which the reconcilers pass on to the channels they
// create.
//
// Conditions: Ready follows ChannelsReady (every channel created for the flow is Ready),
// SubscriptionsReady (every subscription is Ready) and Addressable (status.address.url, the
// address of the flow's first channel, is set).
package flows
