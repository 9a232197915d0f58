// Package feedsv1alpha1 holds the 2018 event source model of Knative eventing, group
// feeds.knative.dev, version v1alpha1: a Feed binds an event trigger (an event type of an event
// source, on a resource, with parameters) to an action (a Route, a Channel or a DNS name);
// an EventSource (or cluster-wide ClusterEventSource) describes a system that produces events,
// and an EventType (or ClusterEventType) one kind of event it produces.
//
// The field names are those of knative/eventing's pkg/apis/feeds/v1alpha1 in 2018, and of the
// manifests its samples and docs show (EventSource's spec.type, from the earliest of them).
// parameters, parametersFrom, feedContext and the schemas were raw JSON (runtime.RawExtension)
// and are stored as canonical JSON: sorted keys, no insignificant space.
//
// These kinds are stored as they are, each the only (storage) version of its kind in group
// feeds.knative.dev; they are registered, and a Feed is converted to the source it runs as,
// by package sources (sources.FeedToV1). EventSource, EventType and their cluster variants are
// a catalogue: nothing runs them, and Eddy does not run the images they name.
//
// All five kinds are Legacy: the unqualified name "eventtype" resolves to
// eventing.knative.dev's EventType; write "eventtypes.feeds.knative.dev" for these.
//
// Not accepted: the pre-rename group eventing.elafros.dev and the earlier Bind kind (a Feed
// under another name): change the apiVersion to feeds.knative.dev/v1alpha1 and the kind to
// Feed.
package feedsv1alpha1
