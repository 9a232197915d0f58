package feedsv1alpha1

import (
	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of the feeds.knative.dev/v1alpha1 kinds: Feed, EventSource and
// EventType (namespaced), ClusterEventSource and ClusterEventType. All are Legacy, so that the
// unqualified "eventtype" stays eventing.knative.dev's. Package sources registers them.
func Kinds() []*api.Kind {
	version := func(newObj func() api.Object) []api.Version {
		return []api.Version{{Name: Version, Storage: true, New: newObj}}
	}
	sourceColumns := func(spec func(api.Object) *EventSourceSpec) []api.Column {
		return []api.Column{
			{Name: "TYPE", Value: func(o api.Object) string { return spec(o).Type }},
			{Name: "SOURCE", Value: func(o api.Object) string { return spec(o).Source }},
			{Name: "IMAGE", Wide: true, Value: func(o api.Object) string { return spec(o).Image }},
		}
	}
	typeColumns := func(spec func(api.Object) *EventTypeSpec) []api.Column {
		return []api.Column{
			{Name: "EVENTSOURCE", Value: func(o api.Object) string { return spec(o).EventSource }},
			{Name: "DESCRIPTION", Wide: true, Value: func(o api.Object) string { return spec(o).Description }},
		}
	}
	return []*api.Kind{
		{
			Group: Group, Kind: "Feed", Plural: "feeds", Singular: "feed", Namespaced: true, Legacy: true,
			Versions: version(func() api.Object { return &Feed{} }),
			Default:  func(o api.Object) { o.(*Feed).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Feed).Validate() },
			Columns: []api.Column{
				{Name: "SERVICE", Value: func(o api.Object) string { return o.(*Feed).Spec.Trigger.Service }},
				{Name: "EVENTTYPE", Value: func(o api.Object) string {
					t := o.(*Feed).Spec.Trigger
					if t.EventType != "" {
						return t.EventType
					}
					return t.ClusterEventType
				}},
				{Name: "ACTION", Value: func(o api.Object) string { return o.(*Feed).Spec.Action.String() }},
				{Name: "SINK", Wide: true, Value: func(o api.Object) string { return o.(*Feed).Status.SinkURI }},
			},
		},
		{
			Group: Group, Kind: "EventSource", Plural: "eventsources", Singular: "eventsource", Namespaced: true, Legacy: true,
			Versions: version(func() api.Object { return &EventSource{} }),
			Default:  func(o api.Object) { o.(*EventSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*EventSource).Validate() },
			Columns:  sourceColumns(func(o api.Object) *EventSourceSpec { return &o.(*EventSource).Spec }),
		},
		{
			Group: Group, Kind: "ClusterEventSource", Plural: "clustereventsources", Singular: "clustereventsource", Legacy: true,
			Versions: version(func() api.Object { return &ClusterEventSource{} }),
			Default:  func(o api.Object) { o.(*ClusterEventSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*ClusterEventSource).Validate() },
			Columns:  sourceColumns(func(o api.Object) *EventSourceSpec { return &o.(*ClusterEventSource).Spec }),
		},
		{
			Group: Group, Kind: "EventType", Plural: "eventtypes", Singular: "eventtype", Namespaced: true, Legacy: true,
			Versions: version(func() api.Object { return &EventType{} }),
			Default:  func(o api.Object) { o.(*EventType).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*EventType).Validate() },
			Columns:  typeColumns(func(o api.Object) *EventTypeSpec { return &o.(*EventType).Spec }),
		},
		{
			Group: Group, Kind: "ClusterEventType", Plural: "clustereventtypes", Singular: "clustereventtype", Legacy: true,
			Versions: version(func() api.Object { return &ClusterEventType{} }),
			Default:  func(o api.Object) { o.(*ClusterEventType).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*ClusterEventType).Validate() },
			Columns:  typeColumns(func(o api.Object) *EventTypeSpec { return &o.(*ClusterEventType).Spec }),
		},
	}
}

// String returns the action as "route/NAME", "channel/NAME" or "dns/NAME".
func (a FeedAction) String() string {
	switch {
	case a.RouteName != "":
		return "route/" + a.RouteName
	case a.ChannelName != "":
		return "channel/" + a.ChannelName
	case a.DNSName != "":
		return "dns/" + a.DNSName
	}
	return ""
}

var _ api.StatusObject = (*Feed)(nil)
