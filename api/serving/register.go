package serving

import (
	"strconv"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/serving/servingv1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of Service, Configuration, Revision and Route: stored as v1,
// served as v1, v1beta1 (v1's schema) and v1alpha1 (the 2018 forms, converted to v1).
func Kinds() []*api.Kind {
	// versions returns the served versions of a kind: v1 (storage), v1beta1 and v1alpha1.
	versions := func(newV1 func() api.Object, v1alpha1 api.Version) []api.Version {
		v1alpha1.Name = servingv1alpha1.Version
		return []api.Version{
			{Name: Version, Storage: true, New: newV1},
			{Name: VersionV1beta1, New: newV1, ToStorage: func(o api.Object) (api.Object, error) { return o, nil }},
			v1alpha1,
		}
	}
	return []*api.Kind{
		{
			Group: Group, Kind: "Service", Plural: "services", Singular: "service", ShortNames: []string{"ksvc", "kservice"}, Namespaced: true,
			Versions: versions(func() api.Object { return &Service{} }, api.Version{
				New:      func() api.Object { return &servingv1alpha1.Service{} },
				Validate: func(o api.Object) field.ErrorList { return validateV1alpha1Service(o.(*servingv1alpha1.Service)) },
				ToStorage: func(o api.Object) (api.Object, error) {
					return ServiceFromV1alpha1(o.(*servingv1alpha1.Service))
				},
			}),
			Default:  func(o api.Object) { o.(*Service).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Service).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Service).ValidateUpdate(old.(*Service))
			},
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Service).Status.URL }},
				{Name: "LATESTCREATED", Value: func(o api.Object) string { return o.(*Service).Status.LatestCreatedRevisionName }},
				{Name: "LATESTREADY", Value: func(o api.Object) string { return o.(*Service).Status.LatestReadyRevisionName }},
			},
		},
		{
			Group: Group, Kind: "Configuration", Plural: "configurations", Singular: "configuration", ShortNames: []string{"config", "cfg", "kcfg"}, Namespaced: true,
			Versions: versions(func() api.Object { return &Configuration{} }, api.Version{
				New: func() api.Object { return &servingv1alpha1.Configuration{} },
				Validate: func(o api.Object) field.ErrorList {
					return validateV1alpha1Configuration(o.(*servingv1alpha1.Configuration))
				},
				ToStorage: func(o api.Object) (api.Object, error) {
					return ConfigurationFromV1alpha1(o.(*servingv1alpha1.Configuration)), nil
				},
			}),
			Default:  func(o api.Object) { o.(*Configuration).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Configuration).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Configuration).ValidateUpdate(old.(*Configuration))
			},
			Columns: []api.Column{
				{Name: "LATESTCREATED", Value: func(o api.Object) string { return o.(*Configuration).Status.LatestCreatedRevisionName }},
				{Name: "LATESTREADY", Value: func(o api.Object) string { return o.(*Configuration).Status.LatestReadyRevisionName }},
			},
		},
		{
			Group: Group, Kind: "Revision", Plural: "revisions", Singular: "revision", ShortNames: []string{"rev"}, Namespaced: true,
			Versions: versions(func() api.Object { return &Revision{} }, api.Version{
				New:      func() api.Object { return &servingv1alpha1.Revision{} },
				Validate: func(o api.Object) field.ErrorList { return validateV1alpha1Revision(o.(*servingv1alpha1.Revision)) },
				ToStorage: func(o api.Object) (api.Object, error) {
					return RevisionFromV1alpha1(o.(*servingv1alpha1.Revision)), nil
				},
			}),
			Default:  func(o api.Object) { o.(*Revision).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Revision).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Revision).ValidateUpdate(old.(*Revision))
			},
			Columns: []api.Column{
				{Name: "CONFIG NAME", Value: func(o api.Object) string { return o.(*Revision).ConfigurationName() }},
				{Name: "GENERATION", Value: func(o api.Object) string { return o.(*Revision).Labels[ConfigurationGenerationLabelKey] }},
				{Name: "ACTUAL REPLICAS", Value: func(o api.Object) string { return int32Cell(o.(*Revision).Status.ActualReplicas) }},
				{Name: "DESIRED REPLICAS", Value: func(o api.Object) string { return int32Cell(o.(*Revision).Status.DesiredReplicas) }},
			},
		},
		{
			Group: Group, Kind: "Route", Plural: "routes", Singular: "route", ShortNames: []string{"rt"}, Namespaced: true,
			Versions: versions(func() api.Object { return &Route{} }, api.Version{
				New:      func() api.Object { return &servingv1alpha1.Route{} },
				Validate: func(o api.Object) field.ErrorList { return validateV1alpha1Route(o.(*servingv1alpha1.Route)) },
				ToStorage: func(o api.Object) (api.Object, error) {
					return RouteFromV1alpha1(o.(*servingv1alpha1.Route)), nil
				},
			}),
			Default:  func(o api.Object) { o.(*Route).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Route).Validate() },
			Columns: []api.Column{
				{Name: "URL", Value: func(o api.Object) string { return o.(*Route).Status.URL }},
			},
		},
	}
}

// Register adds the serving.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

func int32Cell(v *int32) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(int(*v))
}

var (
	_ api.StatusObject = (*Service)(nil)
	_ api.StatusObject = (*Configuration)(nil)
	_ api.StatusObject = (*Revision)(nil)
	_ api.StatusObject = (*Route)(nil)
)
