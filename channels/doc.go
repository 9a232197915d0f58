// Package channels holds the eventing kinds' machinery: the reconcilers of Channel,
// Subscription, Broker, Trigger, Sequence and Parallel, and the HTTP ingress that accepts
// CloudEvents for a Channel or a Broker on the data plane's port and publishes them to the bus.
package channels
