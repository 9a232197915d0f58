package flows

import (
	"github.com/eddyplatform/eddy/api"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of Sequence and Parallel, stored as v1.
func Kinds() []*api.Kind {
	return []*api.Kind{
		{
			Group: Group, Kind: "Sequence", Plural: "sequences", Singular: "sequence", Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Sequence{} }}},
			Default:  func(o api.Object) { o.(*Sequence).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Sequence).Validate() },
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Sequence).Status.URL() }},
			},
		},
		{
			Group: Group, Kind: "Parallel", Plural: "parallels", Singular: "parallel", Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Parallel{} }}},
			Default:  func(o api.Object) { o.(*Parallel).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Parallel).Validate() },
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Parallel).Status.URL() }},
			},
		},
	}
}

// Register adds the flows.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

var (
	_ api.StatusObject = (*Sequence)(nil)
	_ api.StatusObject = (*Parallel)(nil)
)
