package sources

import (
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kinds returns the descriptors of the source kinds: GitHubSource (sources.knative.dev
// v1alpha1), ApiServerSource (v1, and v1beta1 with v1's schema), PingSource (v1, and v1beta2
// with v1's schema), KafkaSource (v1beta1, and v1 with v1beta1's schema), CloudPubSubSource
// (events.cloud.google.com v1) and the 2018 feeds.knative.dev kinds (see package
// feedsv1alpha1). Knative gives these kinds no short names; neither does Eddy.
func Kinds() []*api.Kind {
	// versions returns a storage version and aliases served with its schema.
	versions := func(storage string, newObj func() api.Object, aliases ...string) []api.Version {
		out := []api.Version{{Name: storage, Storage: true, New: newObj}}
		for _, a := range aliases {
			out = append(out, api.Version{Name: a, New: newObj, ToStorage: func(o api.Object) (api.Object, error) { return o, nil }})
		}
		return out
	}
	sink := func(status func(api.Object) string) api.Column {
		return api.Column{Name: "SINK", Value: status}
	}
	kinds := []*api.Kind{
		{
			Group: Group, Kind: "GitHubSource", Plural: "githubsources", Singular: "githubsource", Namespaced: true,
			Versions: versions(GitHubSourceVersion, func() api.Object { return &GitHubSource{} }),
			Default:  func(o api.Object) { o.(*GitHubSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*GitHubSource).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*GitHubSource).ValidateUpdate(old.(*GitHubSource))
			},
			Columns: []api.Column{
				sink(func(o api.Object) string { return o.(*GitHubSource).Status.SinkURI }),
				{Name: "REPOSITORY", Wide: true, Value: func(o api.Object) string { return o.(*GitHubSource).Spec.OwnerAndRepository }},
				{Name: "EVENTTYPES", Wide: true, Value: func(o api.Object) string { return strings.Join(o.(*GitHubSource).Spec.EventTypes, ",") }},
			},
		},
		{
			Group: Group, Kind: "ApiServerSource", Plural: "apiserversources", Singular: "apiserversource", Namespaced: true,
			Versions: versions(VersionV1, func() api.Object { return &ApiServerSource{} }, VersionV1beta1),
			Default:  func(o api.Object) { o.(*ApiServerSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*ApiServerSource).Validate() },
			Columns: []api.Column{
				sink(func(o api.Object) string { return o.(*ApiServerSource).Status.SinkURI }),
				{Name: "MODE", Wide: true, Value: func(o api.Object) string { return o.(*ApiServerSource).Spec.EventMode }},
			},
		},
		{
			Group: Group, Kind: "PingSource", Plural: "pingsources", Singular: "pingsource", Namespaced: true,
			Versions: versions(VersionV1, func() api.Object { return &PingSource{} }, VersionV1beta2),
			Default:  func(o api.Object) { o.(*PingSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*PingSource).Validate() },
			Columns: []api.Column{
				sink(func(o api.Object) string { return o.(*PingSource).Status.SinkURI }),
				{Name: "SCHEDULE", Value: func(o api.Object) string { return o.(*PingSource).Spec.Schedule }},
				{Name: "TIMEZONE", Wide: true, Value: func(o api.Object) string { return o.(*PingSource).Spec.Timezone }},
			},
		},
		{
			Group: Group, Kind: "KafkaSource", Plural: "kafkasources", Singular: "kafkasource", Namespaced: true,
			Versions: versions(KafkaSourceVersion, func() api.Object { return &KafkaSource{} }, VersionV1),
			Default:  func(o api.Object) { o.(*KafkaSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*KafkaSource).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*KafkaSource).ValidateUpdate(old.(*KafkaSource))
			},
			Columns: []api.Column{
				{Name: "TOPICS", Value: func(o api.Object) string { return jsonList(o.(*KafkaSource).Spec.Topics) }},
				{Name: "BOOTSTRAPSERVERS", Value: func(o api.Object) string { return jsonList(o.(*KafkaSource).Spec.BootstrapServers) }},
				{Name: "CONSUMERGROUP", Wide: true, Value: func(o api.Object) string { return o.(*KafkaSource).Spec.ConsumerGroup }},
				{Name: "SINK", Wide: true, Value: func(o api.Object) string { return o.(*KafkaSource).Status.SinkURI }},
			},
		},
		{
			Group: EventsGroup, Kind: "CloudPubSubSource", Plural: "cloudpubsubsources", Singular: "cloudpubsubsource", Namespaced: true,
			Versions: versions(CloudPubSubSourceVersion, func() api.Object { return &CloudPubSubSource{} }),
			Default:  func(o api.Object) { o.(*CloudPubSubSource).SetDefaults() },
			Validate: func(o api.Object) field.ErrorList { return o.(*CloudPubSubSource).Validate() },
			ValidateUpdate: func(old, updated api.Object) field.ErrorList {
				return updated.(*CloudPubSubSource).ValidateUpdate(old.(*CloudPubSubSource))
			},
			Columns: []api.Column{
				{Name: "TOPIC", Value: func(o api.Object) string { return o.(*CloudPubSubSource).Spec.Topic }},
				sink(func(o api.Object) string { return o.(*CloudPubSubSource).Status.SinkURI }),
				{Name: "SUBSCRIPTION", Wide: true, Value: func(o api.Object) string { return o.(*CloudPubSubSource).Status.SubscriptionID }},
			},
		},
	}
	return append(kinds, feedsv1alpha1.Kinds()...)
}

// Register adds the source kinds and the 2018 feeds kinds to r.
func Register(r *api.Registry) { r.Register(Kinds()...) }

var (
	_ api.StatusObject = (*GitHubSource)(nil)
	_ api.StatusObject = (*ApiServerSource)(nil)
	_ api.StatusObject = (*PingSource)(nil)
	_ api.StatusObject = (*KafkaSource)(nil)
	_ api.StatusObject = (*CloudPubSubSource)(nil)
)
