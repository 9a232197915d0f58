package serving

import (
	"crypto/md5"
	"fmt"
	"sort"
	"strings"

	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Group is the API group of this package's kinds.
const Group = "serving.knative.dev"

// Version is the storage version of Service, Configuration, Revision and Route.
const Version = "v1"

// VersionV1beta1 is served with v1's schema, as in Knative.
const VersionV1beta1 = "v1beta1"

// Labels the serving controllers set, as Knative names them.
const (
	// ServiceLabelKey names the Service that owns a Configuration, Route or Revision.
	ServiceLabelKey = Group + "/service"
	// ConfigurationLabelKey names the Configuration that created a Revision.
	ConfigurationLabelKey = Group + "/configuration"
	// ConfigurationGenerationLabelKey is the Configuration's metadata.generation a Revision
	// was created from.
	ConfigurationGenerationLabelKey = Group + "/configurationGeneration"
	// ConfigurationUIDLabelKey is the uid of the Configuration that created a Revision.
	ConfigurationUIDLabelKey = Group + "/configurationUID"
	// ServiceUIDLabelKey is the uid of the Service that owns an object.
	ServiceUIDLabelKey = Group + "/serviceUID"
	// RouteLabelKey names the Route that sends traffic to a Revision or Configuration.
	RouteLabelKey = Group + "/route"
	// RoutingStateLabelKey says whether a Revision gets traffic ("active", "reserve",
	// "pending").
	RoutingStateLabelKey = Group + "/routingState"
	// RevisionLabelKey names a Revision on the objects that run it.
	RevisionLabelKey = Group + "/revision"
	// VisibilityLabelKey on a Service or Route, set to VisibilityClusterLocal, keeps it off
	// the external domain.
	VisibilityLabelKey = "networking.knative.dev/visibility"
	// VisibilityLabelKeyObsolete is the older spelling of VisibilityLabelKey, still
	// accepted.
	VisibilityLabelKeyObsolete = Group + "/visibility"
	// VisibilityClusterLocal is the only value of VisibilityLabelKey.
	VisibilityClusterLocal = "cluster-local"
)

// maxNameLen is the longest name of a serving object: a DNS label.
const maxNameLen = validation.DNS1035LabelMaxLength

// RevisionName returns the name of the n-th revision of a configuration, as Knative makes it:
// "{config}-{n as five digits}", such as "hello-00001". When that is longer than 63 characters
// the configuration's name is cut and a hash of it added, so that the name stays a unique
// DNS label (Knative's kmeta.ChildName).
func RevisionName(config string, n int64) string {
	return childName(config, fmt.Sprintf("-%05d", n))
}

// childName joins parent and suffix into a name of at most 63 characters.
func childName(parent, suffix string) string {
	if len(parent)+len(suffix) <= maxNameLen {
		return parent + suffix
	}
	sum := fmt.Sprintf("%x", md5.Sum([]byte(parent)))
	head := maxNameLen - len(suffix) - len(sum)
	if head <= 0 {
		return fmt.Sprintf("%x", md5.Sum([]byte(parent+suffix)))
	}
	return strings.TrimRight(parent[:head], "-.") + sum + suffix
}

// validateObjectName checks that a serving object's name (or generateName) is a DNS-1035
// label: it becomes a host name label and the name of the runtime's objects.
func validateObjectName(name, generateName string) field.ErrorList {
	md := field.NewPath("metadata")
	var errs field.ErrorList
	switch {
	case name != "":
		for _, msg := range validation.IsDNS1035Label(name) {
			errs = append(errs, field.Invalid(md.Child("name"), name, msg))
		}
	case generateName != "":
		for _, msg := range validation.IsDNS1035Label(strings.TrimSuffix(generateName, "-") + "x") {
			errs = append(errs, field.Invalid(md.Child("generateName"), generateName, msg))
		}
	}
	return errs
}

// validateServingLabels rejects labels in the serving.knative.dev/ namespace other than the
// allowed ones (those the controllers set), and a visibility label other than cluster-local.
func validateServingLabels(labels map[string]string, allowed ...string) field.ErrorList {
	p := field.NewPath("metadata", "labels")
	var errs field.ErrorList
	keys := make([]string, 0, len(labels))
	for key := range labels {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		val := labels[key]
		switch {
		case key == VisibilityLabelKey || key == VisibilityLabelKeyObsolete:
			if val != VisibilityClusterLocal {
				errs = append(errs, field.NotSupported(p.Key(key), val, []string{VisibilityClusterLocal}))
			}
		case strings.HasPrefix(key, Group+"/"):
			ok := false
			for _, a := range allowed {
				ok = ok || a == key
			}
			if !ok {
				errs = append(errs, field.Invalid(p.Key(key), val, "the serving.knative.dev/ labels are set by the controllers"))
			}
		}
	}
	return errs
}

// validateTemplateMeta checks a revision template's metadata at p (spec.template.metadata):
// only name, generateName, namespace (the parent's), labels and annotations may be set; the
// name must be a DNS-1035 label prefixed "{parent}-", and may not be set when the parent has
// only a generateName; the autoscaling annotations must parse.
func validateTemplateMeta(p *field.Path, t *RevisionTemplateSpec, parentName, parentGenerateName, parentNamespace string) field.ErrorList {
	var errs field.ErrorList
	m := t.ObjectMeta
	if m.Namespace != "" && m.Namespace != parentNamespace {
		errs = append(errs, field.Invalid(p.Child("namespace"), m.Namespace, "must be empty or the namespace of the object"))
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"uid", m.UID != ""}, {"resourceVersion", m.ResourceVersion != ""}, {"generation", m.Generation != 0},
		{"creationTimestamp", !m.CreationTimestamp.IsZero()}, {"deletionTimestamp", m.DeletionTimestamp != nil},
		{"deletionGracePeriodSeconds", m.DeletionGracePeriodSeconds != nil}, {"ownerReferences", len(m.OwnerReferences) > 0},
		{"finalizers", len(m.Finalizers) > 0}, {"managedFields", len(m.ManagedFields) > 0}, {"selfLink", m.SelfLink != ""},
	} {
		if f.set {
			errs = append(errs, field.Forbidden(p.Child(f.name), "a revision template's metadata may set only name, generateName, labels and annotations"))
		}
	}
	if m.GenerateName != "" {
		for _, msg := range validation.IsDNS1035Label(strings.TrimSuffix(m.GenerateName, "-") + "x") {
			errs = append(errs, field.Invalid(p.Child("generateName"), m.GenerateName, msg))
		}
	}
	if m.Name != "" {
		prefix := parentName + "-"
		switch {
		case len(validation.IsDNS1035Label(m.Name)) > 0:
			for _, msg := range validation.IsDNS1035Label(m.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), m.Name, msg))
			}
		case parentName == "" && parentGenerateName != "":
			errs = append(errs, field.Forbidden(p.Child("name"), "may not be set when the object's name is generated (metadata.generateName)"))
		case !strings.HasPrefix(m.Name, prefix):
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, fmt.Sprintf("must have prefix %q", prefix)))
		}
	}
	errs = append(errs, metav1validation.ValidateLabels(m.Labels, p.Child("labels"))...)
	for key := range m.Annotations {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(key)) {
			errs = append(errs, field.Invalid(p.Child("annotations"), key, msg))
		}
	}
	_, aerrs := parseAutoscaling(p.Child("annotations"), m.Annotations)
	return append(errs, aerrs...)
}

func ptr[T any](v T) *T { return &v }
