package eventing

import (
	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of Broker and Trigger (stored as v1) and EventType (stored as
// v1beta2).
func Kinds() []*api.Kind {
	return []*api.Kind{
		{
			Group: Group, Kind: "Broker", Plural: "brokers", Singular: "broker", Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Broker{} }}},
			Default:  func(o api.Object) { o.(*Broker).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Broker).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Broker).ValidateUpdate(old.(*Broker))
			},
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Broker).Status.URL() }},
				{Name: "CLASS", Wide: true, Value: func(o api.Object) string { return o.(*Broker).Class() }},
				{Name: "BUS", Wide: true, Value: func(o api.Object) string { return o.(*Broker).Bus().String() }},
			},
		},
		{
			Group: Group, Kind: "Trigger", Plural: "triggers", Singular: "trigger", Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Trigger{} }}},
			Default:  func(o api.Object) { o.(*Trigger).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Trigger).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Trigger).ValidateUpdate(old.(*Trigger))
			},
			Columns: []api.Column{
				{Name: "BROKER", Value: func(o api.Object) string { return o.(*Trigger).Spec.Broker }},
				{Name: "SUBSCRIBER_URI", Value: func(o api.Object) string { return o.(*Trigger).Status.SubscriberURI }},
			},
		},
		{
			Group: Group, Kind: "EventType", Plural: "eventtypes", Singular: "eventtype", Namespaced: true,
			Versions: []api.Version{{Name: EventTypeVersion, Storage: true, New: func() api.Object { return &EventType{} }}},
			Default:  func(o api.Object) { o.(*EventType).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*EventType).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*EventType).ValidateUpdate(old.(*EventType))
			},
			Columns: []api.Column{
				{Name: "TYPE", Value: func(o api.Object) string { return o.(*EventType).Spec.Type }},
				{Name: "SOURCE", Value: func(o api.Object) string { return o.(*EventType).Spec.Source }},
				{Name: "SCHEMA", Wide: true, Value: func(o api.Object) string { return o.(*EventType).Spec.Schema }},
				{Name: "REFERENCE", Wide: true, Value: func(o api.Object) string {
					if r := o.(*EventType).Spec.Reference; r != nil {
						return r.Kind + "/" + r.Name
					}
					return ""
				}},
				{Name: "DESCRIPTION", Wide: true, Value: func(o api.Object) string { return o.(*EventType).Spec.Description }},
			},
		},
	}
}

// Register adds the eventing.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

var (
	_ api.StatusObject = (*Broker)(nil)
	_ api.StatusObject = (*Trigger)(nil)
	_ api.StatusObject = (*EventType)(nil)
)
