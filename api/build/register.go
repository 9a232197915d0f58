package build

import (
	"strconv"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of Build, BuildTemplate and ClusterBuildTemplate, served and
// stored as v1alpha1.
func Kinds() []*api.Kind {
	return []*api.Kind{
		{
			Group: Group, Kind: "Build", Plural: "builds", Singular: "build", ShortNames: []string{"bld"}, Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &Build{} }}},
			Default:  func(o api.Object) { o.(*Build).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*Build).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*Build).ValidateUpdate(old.(*Build))
			},
			Columns: []api.Column{
				{Name: "STARTTIME", Value: func(o api.Object) string { return timeCell(o.(*Build).Status.StartTime) }},
				{Name: "COMPLETIONTIME", Value: func(o api.Object) string { return timeCell(o.(*Build).Status.CompletionTime) }},
				{Name: "TEMPLATE", Wide: true, Value: func(o api.Object) string {
					if t := o.(*Build).Spec.Template; t != nil {
						return string(t.Kind) + "/" + t.Name
					}
					return ""
				}},
				{Name: "ARTIFACT", Wide: true, Value: func(o api.Object) string {
					if a := o.(*Build).Status.Artifact; a != nil {
						return a.Digest
					}
					return ""
				}},
			},
		},
		{
			Group: Group, Kind: "BuildTemplate", Plural: "buildtemplates", Singular: "buildtemplate", ShortNames: []string{"bt"}, Namespaced: true,
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &BuildTemplate{} }}},
			Validate: func(o api.Object) field.ErrorList { return o.(*BuildTemplate).Validate() },
			Columns:  templateColumns(func(o api.Object) *BuildTemplateSpec { return &o.(*BuildTemplate).Spec }),
		},
		{
			Group: Group, Kind: "ClusterBuildTemplate", Plural: "clusterbuildtemplates", Singular: "clusterbuildtemplate", ShortNames: []string{"cbt"},
			Versions: []api.Version{{Name: Version, Storage: true, New: func() api.Object { return &ClusterBuildTemplate{} }}},
			Validate: func(o api.Object) field.ErrorList { return o.(*ClusterBuildTemplate).Validate() },
			Columns:  templateColumns(func(o api.Object) *BuildTemplateSpec { return &o.(*ClusterBuildTemplate).Spec }),
		},
	}
}

// Register adds the build.knative.dev kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

func templateColumns(spec func(api.Object) *BuildTemplateSpec) []api.Column {
	return []api.Column{
		{Name: "PARAMETERS", Value: func(o api.Object) string {
			var names []string
			for _, p := range spec(o).Parameters {
				names = append(names, p.Name)
			}
			return strings.Join(names, ",")
		}},
		{Name: "STEPS", Value: func(o api.Object) string { return strconv.Itoa(len(spec(o).Steps)) }},
	}
}

func timeCell(t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

var (
	_ api.StatusObject = (*Build)(nil)
	_ api.StatusObject = (*BuildTemplate)(nil)
	_ api.StatusObject = (*ClusterBuildTemplate)(nil)
)
