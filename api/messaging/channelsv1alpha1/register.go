package channelsv1alpha1

import (
	"encoding/json"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/messaging"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of the channels.knative.dev/v1alpha1 kinds. Channel and
// Subscription are Legacy: their unqualified names resolve to the messaging.knative.dev kinds.
func Kinds() []*api.Kind {
	version := func(newObj func() api.Object) []api.Version {
		return []api.Version{{Name: Version, Storage: true, New: newObj}}
	}
	busColumns := func(spec func(api.Object) *BusSpec) []api.Column {
		return []api.Column{{Name: "TYPE", Value: func(o api.Object) string { return string(spec(o).Type) }}}
	}
	return []*api.Kind{
		{
			Group: Group, Kind: "Channel", Plural: "channels", Singular: "channel", Namespaced: true, Legacy: true,
			Versions: version(func() api.Object { return &Channel{} }),
			Validate: func(o api.Object) field.ErrorList { return o.(*Channel).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Channel).ValidateUpdate(old.(*Channel))
			},
			Columns: []api.Column{
				{Name: "BUS", Value: func(o api.Object) string { return o.(*Channel).BusRef().String() }},
				{Name: "URL", Value: func(o api.Object) string { return o.(*Channel).Status.URL() }},
			},
		},
		{
			Group: Group, Kind: "Subscription", Plural: "subscriptions", Singular: "subscription", Namespaced: true, Legacy: true,
			Versions: version(func() api.Object { return &Subscription{} }),
			Validate: func(o api.Object) field.ErrorList { return o.(*Subscription).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Subscription).ValidateUpdate(old.(*Subscription))
			},
			Columns: []api.Column{
				{Name: "CHANNEL", Value: func(o api.Object) string { return o.(*Subscription).Spec.Channel }},
				{Name: "SUBSCRIBER", Value: func(o api.Object) string { return o.(*Subscription).Spec.Subscriber }},
			},
		},
		{
			Group: Group, Kind: "Bus", Plural: "buses", Singular: "bus", Namespaced: true,
			Versions: version(func() api.Object { return &Bus{} }),
			Default:  func(o api.Object) { o.(*Bus).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Bus).Validate() },
			Columns:  busColumns(func(o api.Object) *BusSpec { return &o.(*Bus).Spec }),
		},
		{
			Group: Group, Kind: "ClusterBus", Plural: "clusterbuses", Singular: "clusterbus",
			Versions: version(func() api.Object { return &ClusterBus{} }),
			Default:  func(o api.Object) { o.(*ClusterBus).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*ClusterBus).Validate() },
			Columns:  busColumns(func(o api.Object) *BusSpec { return &o.(*ClusterBus).Spec }),
		},
	}
}

// Register adds the channels.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

var (
	_ api.StatusObject = (*Channel)(nil)
	_ api.StatusObject = (*Subscription)(nil)
	_ api.StatusObject = (*Bus)(nil)
	_ api.StatusObject = (*ClusterBus)(nil)
)

// deepCopy copies a JSON-shaped value through its encoding.
func deepCopy[T any](in T) T {
	var out T
	data, err := json.Marshal(in)
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		panic("channelsv1alpha1: copying " + err.Error()) // a status always round-trips
	}
	return out
}

func copyChannelStatus(s messaging.ChannelStatus) messaging.ChannelStatus { return deepCopy(s) }

func copySubscriptionStatus(s messaging.SubscriptionStatus) messaging.SubscriptionStatus {
	return deepCopy(s)
}
