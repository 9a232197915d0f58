package messaging

import (
	"sort"

	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of Channel, InMemoryChannel and Subscription, stored as v1.
func Kinds() []*api.Kind {
	return []*api.Kind{
		{
			Group: Group, Kind: "Channel", Plural: "channels", Singular: "channel", ShortNames: []string{"ch"}, Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Channel{} }}},
			Default:  func(o api.Object) { o.(*Channel).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Channel).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Channel).ValidateUpdate(old.(*Channel))
			},
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Channel).Status.URL() }},
				{Name: "BUS", Wide: true, Value: func(o api.Object) string { return o.(*Channel).Bus().String() }},
			},
		},
		{
			Group: Group, Kind: "InMemoryChannel", Plural: "inmemorychannels", Singular: "inmemorychannel", ShortNames: []string{"imc"}, Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &InMemoryChannel{} }}},
			Default:  func(o api.Object) { o.(*InMemoryChannel).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*InMemoryChannel).Validate() },
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*InMemoryChannel).Status.URL() }},
			},
		},
		{
			Group: Group, Kind: "Subscription", Plural: "subscriptions", Singular: "subscription", ShortNames: []string{"sub"}, Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Subscription{} }}},
			Default:  func(o api.Object) { o.(*Subscription).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Subscription).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Subscription).ValidateUpdate(old.(*Subscription))
			},
			Columns: []api.Column{
				{Name: "CHANNEL", Value: func(o api.Object) string { return o.(*Subscription).Spec.Channel.Name }},
				{Name: "CHANNEL_KIND", Wide: true, Value: func(o api.Object) string { return o.(*Subscription).Spec.Channel.Kind }},
				{Name: "SUBSCRIBER_URI", Wide: true, Value: func(o api.Object) string {
					return o.(*Subscription).Status.PhysicalSubscription.SubscriberURI
				}},
				{Name: "REPLY_URI", Wide: true, Value: func(o api.Object) string {
					return o.(*Subscription).Status.PhysicalSubscription.ReplyURI
				}},
			},
		},
	}
}

// Register adds the messaging.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

var (
	_ api.StatusObject = (*Channel)(nil)
	_ api.StatusObject = (*InMemoryChannel)(nil)
	_ api.StatusObject = (*Subscription)(nil)
)

func sortStrings(s []string) { sort.Strings(s) }

func groupOf(apiVersion string) string {
	for i := 0; i < len(apiVersion); i++ {
		if apiVersion[i] == '/' {
			return apiVersion[:i]
		}
	}
	return ""
}
