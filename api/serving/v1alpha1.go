package serving

import (
	"errors"
	"fmt"
	"strings"

	"github.com/eddyplatform/eddy/api/serving/servingv1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The tags Knative gives the targets of a release-mode service.
const (
	// TagCurrent is the tag of spec.release.revisions[0].
	TagCurrent = "current"
	// TagCandidate is the tag of spec.release.revisions[1].
	TagCandidate = "candidate"
	// TagLatest is the tag of the 0% target that follows the latest ready revision.
	TagLatest = "latest"
)

// v1Meta returns the TypeMeta of a v1 kind.
func v1Meta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: Group + "/" + Version, Kind: kind}
}

// revisionSpecFromV1alpha1 converts a 2018 revision spec: the container becomes containers[0],
// the concurrency model becomes containerConcurrency (Single is 1), serviceAccountName and
// timeoutSeconds are kept; generation and servingState are dropped.
func revisionSpecFromV1alpha1(in *servingv1alpha1.RevisionSpec) RevisionSpec {
	out := RevisionSpec{
		PodSpec: corev1.PodSpec{
			Containers:         []corev1.Container{*in.Container.DeepCopy()},
			ServiceAccountName: in.ServiceAccountName,
		},
	}
	if cc := in.EffectiveContainerConcurrency(); cc != 0 {
		out.ContainerConcurrency = ptr(cc)
	}
	if in.TimeoutSeconds != nil {
		out.TimeoutSeconds = ptr(*in.TimeoutSeconds)
	}
	return out
}

// templateFromV1alpha1 converts a 2018 revision template.
func templateFromV1alpha1(in *servingv1alpha1.RevisionTemplateSpec) RevisionTemplateSpec {
	return RevisionTemplateSpec{ObjectMeta: *in.ObjectMeta.DeepCopy(), Spec: revisionSpecFromV1alpha1(&in.Spec)}
}

// ServiceFromV1alpha1 converts a 2018 Service to v1, as Knative converted it:
//   - runLatest: traffic [{latestRevision: true, percent: 100}];
//   - release with revisions [a, b] and rolloutPercent p: a tagged "current" takes 100-p, b
//     tagged "candidate" takes p, and a target tagged "latest" follows the latest ready
//     revision at 0%; with revisions [a]: a takes 100 and "latest" 0. "@latest" in revisions
//     becomes latestRevision: true;
//   - pinned: revisionName takes 100%;
//   - manual: an error, as in Knative.
//
// The configuration's revisionTemplate becomes spec.template. The v1 defaults are not applied.
func ServiceFromV1alpha1(in *servingv1alpha1.Service) (*Service, error) {
	out := &Service{TypeMeta: v1Meta("Service"), ObjectMeta: *in.ObjectMeta.DeepCopy()}
	cfg, _ := in.Spec.Configuration()
	switch in.Spec.Mode() {
	case "runLatest":
		out.Spec.Traffic = []TrafficTarget{{LatestRevision: ptr(true), Percent: ptr(int64(100))}}
	case "release":
		r := in.Spec.Release
		if len(r.Revisions) == 0 || len(r.Revisions) > 2 {
			return nil, fmt.Errorf("spec.release.revisions: %d revisions, want 1 or 2", len(r.Revisions))
		}
		target := func(name, tag string, percent int64) TrafficTarget {
			if name == servingv1alpha1.ReleaseLatestRevisionKeyword {
				return TrafficTarget{Tag: tag, LatestRevision: ptr(true), Percent: ptr(percent)}
			}
			return TrafficTarget{Tag: tag, RevisionName: name, LatestRevision: ptr(false), Percent: ptr(percent)}
		}
		if len(r.Revisions) == 2 {
			out.Spec.Traffic = []TrafficTarget{
				target(r.Revisions[0], TagCurrent, int64(100-r.RolloutPercent)),
				target(r.Revisions[1], TagCandidate, int64(r.RolloutPercent)),
			}
		} else {
			out.Spec.Traffic = []TrafficTarget{target(r.Revisions[0], TagCurrent, 100)}
		}
		out.Spec.Traffic = append(out.Spec.Traffic, TrafficTarget{Tag: TagLatest, LatestRevision: ptr(true), Percent: ptr(int64(0))})
	case "pinned":
		out.Spec.Traffic = []TrafficTarget{{RevisionName: in.Spec.Pinned.RevisionName, LatestRevision: ptr(false), Percent: ptr(int64(100))}}
	case "manual":
		return nil, errors.New("spec.manual: manual mode cannot be converted to serving.knative.dev/v1")
	default:
		return nil, errors.New("spec: set exactly one of runLatest, release, pinned or manual")
	}
	out.Spec.Template = templateFromV1alpha1(&cfg.RevisionTemplate)
	return out, nil
}

// ConfigurationFromV1alpha1 converts a 2018 Configuration to v1: spec.revisionTemplate becomes
// spec.template.
func ConfigurationFromV1alpha1(in *servingv1alpha1.Configuration) *Configuration {
	return &Configuration{
		TypeMeta:   v1Meta("Configuration"),
		ObjectMeta: *in.ObjectMeta.DeepCopy(),
		Spec:       ConfigurationSpec{Template: templateFromV1alpha1(&in.Spec.RevisionTemplate)},
	}
}

// RevisionFromV1alpha1 converts a 2018 Revision to v1.
func RevisionFromV1alpha1(in *servingv1alpha1.Revision) *Revision {
	return &Revision{TypeMeta: v1Meta("Revision"), ObjectMeta: *in.ObjectMeta.DeepCopy(), Spec: revisionSpecFromV1alpha1(&in.Spec)}
}

// RouteFromV1alpha1 converts a 2018 Route to v1: each target's name becomes its tag, and its
// percent is kept.
func RouteFromV1alpha1(in *servingv1alpha1.Route) *Route {
	out := &Route{TypeMeta: v1Meta("Route"), ObjectMeta: *in.ObjectMeta.DeepCopy()}
	for _, t := range in.Spec.Traffic {
		out.Spec.Traffic = append(out.Spec.Traffic, TrafficTarget{
			Tag: t.Name, RevisionName: t.RevisionName, ConfigurationName: t.ConfigurationName, Percent: ptr(int64(t.Percent)),
		})
	}
	return out
}

// renamePaths rewrites error paths that start with from+"." (or equal from) to start with to,
// so that errors found on a converted object name the fields the user wrote.
func renamePaths(errs field.ErrorList, from, to string) field.ErrorList {
	for _, e := range errs {
		switch {
		case e.Field == from:
			e.Field = to
		case strings.HasPrefix(e.Field, from+"."), strings.HasPrefix(e.Field, from+"["):
			e.Field = to + strings.TrimPrefix(e.Field, from)
		}
	}
	return errs
}

// validateV1alpha1Template runs the v1 checks of a revision template on the converted 2018
// template at p (…revisionTemplate), with spec.containers[0] named spec.container again.
func validateV1alpha1Template(p *field.Path, in *servingv1alpha1.RevisionTemplateSpec, parent *metav1.ObjectMeta) field.ErrorList {
	t := templateFromV1alpha1(in)
	cs := ConfigurationSpec{Template: t}
	errs := cs.validate(p, parent)
	return renamePaths(errs, p.Child("spec", "containers").Index(0).String(), p.Child("spec", "container").String())
}

// validateV1alpha1Service checks a 2018 Service before conversion: the 2018 rules, then the
// v1 rules of its template, with the paths the user wrote.
func validateV1alpha1Service(s *servingv1alpha1.Service) field.ErrorList {
	errs := s.Validate()
	if cfg, p := s.Spec.Configuration(); cfg != nil {
		errs = append(errs, validateV1alpha1Template(p.Child("revisionTemplate"), &cfg.RevisionTemplate, &s.ObjectMeta)...)
	}
	return errs
}

// validateV1alpha1Configuration checks a 2018 Configuration before conversion.
func validateV1alpha1Configuration(c *servingv1alpha1.Configuration) field.ErrorList {
	errs := c.Validate()
	return append(errs, validateV1alpha1Template(field.NewPath("spec", "revisionTemplate"), &c.Spec.RevisionTemplate, &c.ObjectMeta)...)
}

// validateV1alpha1Revision checks a 2018 Revision before conversion.
func validateV1alpha1Revision(r *servingv1alpha1.Revision) field.ErrorList {
	errs := r.Validate()
	p := field.NewPath("spec")
	spec := revisionSpecFromV1alpha1(&r.Spec)
	return append(errs, renamePaths(spec.Validate(p), p.Child("containers").Index(0).String(), p.Child("container").String())...)
}

// validateV1alpha1Route checks a 2018 Route before conversion: v1's traffic rules, with each
// tag named name again.
func validateV1alpha1Route(r *servingv1alpha1.Route) field.ErrorList {
	errs := r.Validate()
	v1 := RouteFromV1alpha1(r)
	p := field.NewPath("spec", "traffic")
	terrs := validateTraffic(p, v1.Spec.Traffic, false)
	for i := range v1.Spec.Traffic {
		terrs = renamePaths(terrs, p.Index(i).Child("tag").String(), p.Index(i).Child("name").String())
	}
	return append(errs, terrs...)
}
