package serving

import (
	"fmt"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Route splits the requests sent to its URL between revisions: named ones, or the latest
// ready revision of a configuration.
type Route struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec RouteSpec `json:"spec,omitempty"`
	// Status is the observed state, written by the controllers.
	Status RouteStatus `json:"status,omitempty"`
}

// RouteSpec is the desired traffic split.
type RouteSpec struct {
	// Traffic lists the targets; their percents sum to 100.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// TrafficTarget is one share of a route's traffic.
type TrafficTarget struct {
	// Tag gives the target its own URL, {tag}-{route}.{namespace}.{domain}; a DNS label,
	// unique within the route.
	Tag string `json:"tag,omitempty"`
	// RevisionName pins the target to a revision.
	RevisionName string `json:"revisionName,omitempty"`
	// ConfigurationName follows the latest ready revision of a configuration (a Route's
	// targets only: a Service's targets follow its own configuration).
	ConfigurationName string `json:"configurationName,omitempty"`
	// LatestRevision is true for a target that follows the latest ready revision, false for
	// one pinned to revisionName. It defaults to revisionName == "".
	LatestRevision *bool `json:"latestRevision,omitempty"`
	// Percent is the target's share, 0 to 100; unset is 0.
	Percent *int64 `json:"percent,omitempty"`
	// URL is the tag's URL, in status only.
	URL string `json:"url,omitempty"`
}

// GetPercent returns the target's percent, 0 when unset.
func (t *TrafficTarget) GetPercent() int64 {
	if t.Percent == nil {
		return 0
	}
	return *t.Percent
}

// IsLatest reports whether the target follows the latest ready revision.
func (t *TrafficTarget) IsLatest() bool {
	if t.LatestRevision == nil {
		return t.RevisionName == ""
	}
	return *t.LatestRevision
}

// SetDefaults sets latestRevision to revisionName == "" when unset, as Knative does.
func (t *TrafficTarget) SetDefaults() {
	if t.LatestRevision == nil {
		t.LatestRevision = ptr(t.RevisionName == "")
	}
}

// SetDefaults defaults each target. A Route's empty traffic stays empty (and is rejected):
// only a Service has a configuration for a default target to follow, as in Knative.
func (rs *RouteSpec) SetDefaults() {
	for i := range rs.Traffic {
		rs.Traffic[i].SetDefaults()
	}
}

// SetDefaults applies the route's defaults.
func (r *Route) SetDefaults() { r.Spec.SetDefaults() }

// Validate checks the route's name, labels, annotations and traffic.
func (r *Route) Validate() field.ErrorList {
	errs := validateObjectName(r.Name, r.GenerateName)
	errs = append(errs, validateServingLabels(r.Labels, ServiceLabelKey, ServiceUIDLabelKey)...)
	errs = append(errs, validateNoAutoscalingAnnotations(r.Annotations)...)
	return append(errs, validateTraffic(field.NewPath("spec", "traffic"), r.Spec.Traffic, false)...)
}

// validateTraffic checks traffic targets at p, as Knative's webhook does in a spec: each
// target names exactly one of revisionName and configurationName (a Route's), or exactly one
// of revisionName and latestRevision: true (a Service's, which may not name a configuration);
// latestRevision agrees with revisionName; percents are 0 to 100 and sum to 100; tags are
// unique DNS labels; url is not set.
func validateTraffic(p *field.Path, traffic []TrafficTarget, inService bool) field.ErrorList {
	var errs field.ErrorList
	tags := map[string]bool{}
	var sum int64
	for i := range traffic {
		t := &traffic[i]
		tp := p.Index(i)
		sum += t.GetPercent()
		switch {
		case inService && t.ConfigurationName != "":
			errs = append(errs, field.Forbidden(tp.Child("configurationName"),
				"a Service's traffic follows its own configuration: set revisionName or latestRevision: true"))
		case !inService && t.RevisionName != "" && t.ConfigurationName != "":
			errs = append(errs, field.Invalid(tp.Child("configurationName"), t.ConfigurationName,
				"expected exactly one of revisionName and configurationName, got both"))
		case !inService && t.RevisionName == "" && t.ConfigurationName == "":
			errs = append(errs, field.Required(tp.Child("revisionName"), "expected exactly one of revisionName and configurationName, got neither"))
		}
		for _, n := range []struct{ name, v string }{{"revisionName", t.RevisionName}, {"configurationName", t.ConfigurationName}} {
			if n.v != "" {
				for _, msg := range validation.IsDNS1035Label(n.v) {
					errs = append(errs, field.Invalid(tp.Child(n.name), n.v, msg))
				}
			}
		}
		if t.LatestRevision != nil && *t.LatestRevision == (t.RevisionName != "") {
			errs = append(errs, field.Invalid(tp.Child("latestRevision"), *t.LatestRevision,
				fmt.Sprintf("may not set revisionName %q when latestRevision is %t", t.RevisionName, *t.LatestRevision)))
		}
		if t.Percent != nil && (*t.Percent < 0 || *t.Percent > 100) {
			errs = append(errs, field.Invalid(tp.Child("percent"), *t.Percent, "must be between 0 and 100"))
		}
		if t.URL != "" {
			errs = append(errs, field.Forbidden(tp.Child("url"), "url is set in status only"))
		}
		if t.Tag == "" {
			continue
		}
		for _, msg := range validation.IsDNS1035Label(t.Tag) {
			errs = append(errs, field.Invalid(tp.Child("tag"), t.Tag, msg))
		}
		if tags[t.Tag] {
			errs = append(errs, field.Duplicate(tp.Child("tag"), t.Tag))
		}
		tags[t.Tag] = true
	}
	if sum != 100 {
		errs = append(errs, field.Invalid(p, sum, fmt.Sprintf("traffic targets sum to %d, want 100", sum)))
	}
	return errs
}

// GetStatus returns the condition-bearing part of the status.
func (r *Route) GetStatus() *api.Status { return &r.Status.Status }

// RouteStatus is the observed state of a Route.
type RouteStatus struct {
	api.Status        `json:",inline"`
	RouteStatusFields `json:",inline"`
}

// RouteStatusFields are the status fields a Route shares with the Service that owns it.
type RouteStatusFields struct {
	// URL is where the route is reached from outside, http://{route}.{namespace}.{domain}.
	URL string `json:"url,omitempty"`
	// Address is where the route is reached from inside the cluster.
	Address *duck.Addressable `json:"address,omitempty"`
	// Traffic is the split in effect: each target with its revisionName resolved and, for a
	// tagged target, its url.
	Traffic []TrafficTarget `json:"traffic,omitempty"`
}

// SetAddress sets status.address.url, or clears the address when url is empty.
func (f *RouteStatusFields) SetAddress(url string) {
	if url == "" {
		f.Address = nil
		return
	}
	name := "http"
	if strings.HasPrefix(strings.ToLower(url), "https://") {
		name = "https"
	}
	f.Address = &duck.Addressable{Name: &name, URL: url}
}

// AddressURL returns status.address.url, or "".
func (f *RouteStatusFields) AddressURL() string {
	if f.Address == nil {
		return ""
	}
	return f.Address.URL
}

// The conditions of a Route.
const (
	// RouteConditionAllTrafficAssigned is True when every target resolved to a ready
	// revision.
	RouteConditionAllTrafficAssigned api.ConditionType = "AllTrafficAssigned"
	// RouteConditionIngressReady is True when Eddy's router serves the route's split.
	RouteConditionIngressReady api.ConditionType = "IngressReady"
)

// Reasons the route and service conditions carry.
const (
	// ReasonRevisionMissing: a target's revision does not exist or is not ready.
	ReasonRevisionMissing = "RevisionMissing"
	// ReasonConfigurationMissing: a target's configuration does not exist.
	ReasonConfigurationMissing = "ConfigurationMissing"
	// ReasonIngressNotConfigured: the router does not serve the split yet.
	ReasonIngressNotConfigured = "IngressNotConfigured"
)

// RouteConditionSet is the condition set of a Route: Ready follows AllTrafficAssigned and
// IngressReady.
var RouteConditionSet = api.NewLivingConditionSet(RouteConditionAllTrafficAssigned, RouteConditionIngressReady)

func (s *RouteStatus) manage() *api.ConditionManager { return RouteConditionSet.Manage(&s.Status) }

// InitializeConditions sets every missing condition to Unknown.
func (s *RouteStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *RouteStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkTrafficAssigned records that every target resolved.
func (s *RouteStatus) MarkTrafficAssigned() { s.manage().MarkTrue(RouteConditionAllTrafficAssigned) }

// MarkConfigurationNotReady records that a target's configuration has no ready revision yet.
func (s *RouteStatus) MarkConfigurationNotReady(name string) {
	s.manage().MarkUnknown(RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		"Configuration %q is waiting for a Revision to become ready.", name)
}

// MarkConfigurationFailed records that a target's configuration's latest revision failed.
func (s *RouteStatus) MarkConfigurationFailed(name string) {
	s.manage().MarkFalse(RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		"Configuration %q does not have any ready Revision.", name)
}

// MarkRevisionNotReady records that a target's revision is not ready yet.
func (s *RouteStatus) MarkRevisionNotReady(name string) {
	s.manage().MarkUnknown(RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		"Revision %q is not yet ready.", name)
}

// MarkRevisionFailed records that a target's revision failed.
func (s *RouteStatus) MarkRevisionFailed(name string) {
	s.manage().MarkFalse(RouteConditionAllTrafficAssigned, ReasonRevisionMissing,
		"Revision %q failed to become ready.", name)
}

// MarkMissingTrafficTarget records that a target names an object that does not exist; kind
// is "Revision" or "Configuration".
func (s *RouteStatus) MarkMissingTrafficTarget(kind, name string) {
	s.manage().MarkFalse(RouteConditionAllTrafficAssigned, kind+"Missing",
		"%s %q referenced in traffic not found.", kind, name)
}

// MarkIngressReady records that the router serves the route's split.
func (s *RouteStatus) MarkIngressReady() { s.manage().MarkTrue(RouteConditionIngressReady) }

// MarkIngressNotReady records what the router is waiting for.
func (s *RouteStatus) MarkIngressNotReady(reason, format string, args ...any) {
	s.manage().MarkUnknown(RouteConditionIngressReady, reason, format, args...)
}

// MarkIngressFailed records why the router cannot serve the route.
func (s *RouteStatus) MarkIngressFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(RouteConditionIngressReady, reason, format, args...)
}
