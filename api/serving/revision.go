package serving

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Knative's defaults and limits of a revision (those of its config-defaults).
const (
	// DefaultTimeoutSeconds is the request timeout of a revision that sets none.
	DefaultTimeoutSeconds int64 = 300
	// MaxTimeoutSeconds is the longest request timeout.
	MaxTimeoutSeconds int64 = 600
	// DefaultContainerConcurrency is 0: an instance takes any number of requests at once.
	DefaultContainerConcurrency int64 = 0
	// MaxContainerConcurrency is the largest containerConcurrency.
	MaxContainerConcurrency int64 = 1000
	// DefaultUserPort is the port a container serves on when it declares none.
	DefaultUserPort int32 = 8080
	// DefaultUserContainerName is the name of a container that has none.
	DefaultUserContainerName = "user-container"
)

// reservedPorts are the ports Knative keeps for its queue proxy and metrics.
var reservedPorts = map[int32]bool{8012: true, 8013: true, 8022: true, 9090: true, 9091: true}

// Revision is an immutable snapshot of code and configuration: one container and how it is
// served. Configurations create them; users rarely do.
type Revision struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the desired state.
	Spec RevisionSpec `json:"spec,omitempty"`
	// Status is the observed state, written by the controllers.
	Status RevisionStatus `json:"status,omitempty"`
}

// RevisionTemplateSpec is the template a Configuration creates its revisions from.
type RevisionTemplateSpec struct {
	// ObjectMeta may set the revision's name ("{parent}-…"), generateName, labels and
	// annotations (such as the autoscaling ones).
	metav1.ObjectMeta `json:"metadata,omitempty"`
	// Spec is the revisions' spec.
	Spec RevisionSpec `json:"spec,omitempty"`
}

// RevisionSpec is Knative's: a pod spec with exactly one container (Eddy's runtime runs one
// container per revision instance) and the serving settings.
type RevisionSpec struct {
	// PodSpec holds containers (exactly one), volumes, serviceAccountName, imagePullSecrets,
	// enableServiceLinks and automountServiceAccountToken; its other fields are rejected.
	corev1.PodSpec `json:",inline"`
	// ContainerConcurrency is the most requests an instance serves at once, 0 (unlimited,
	// the default) to 1000.
	ContainerConcurrency *int64 `json:"containerConcurrency,omitempty"`
	// TimeoutSeconds is the longest a request may take, 1 to 600; 300 by default.
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty"`
	// ResponseStartTimeoutSeconds is the longest wait for the first byte of a response, at
	// most timeoutSeconds.
	ResponseStartTimeoutSeconds *int64 `json:"responseStartTimeoutSeconds,omitempty"`
	// IdleTimeoutSeconds is the longest a response may go without writing a byte.
	IdleTimeoutSeconds *int64 `json:"idleTimeoutSeconds,omitempty"`
}

// Container returns the revision's container, or nil when there is none (validation rejects
// that).
func (rs *RevisionSpec) Container() *corev1.Container {
	if len(rs.Containers) == 0 {
		return nil
	}
	return &rs.Containers[0]
}

// Port returns the port the container serves on: its containerPort, else DefaultUserPort.
func (rs *RevisionSpec) Port() int32 {
	if c := rs.Container(); c != nil && len(c.Ports) > 0 && c.Ports[0].ContainerPort != 0 {
		return c.Ports[0].ContainerPort
	}
	return DefaultUserPort
}

// Timeout returns timeoutSeconds as a duration, or the default.
func (rs *RevisionSpec) Timeout() time.Duration {
	if rs.TimeoutSeconds != nil && *rs.TimeoutSeconds > 0 {
		return time.Duration(*rs.TimeoutSeconds) * time.Second
	}
	return time.Duration(DefaultTimeoutSeconds) * time.Second
}

// SetDefaults applies Knative's revision defaults: timeoutSeconds 300 (also for 0),
// containerConcurrency 0, the container name "user-container", the port 8080, a TCP readiness
// probe of the container's port with successThreshold 1 when the container has no probe
// handler, and read-only mounts of configMap, secret and projected volumes.
func (rs *RevisionSpec) SetDefaults() {
	if rs.TimeoutSeconds == nil || *rs.TimeoutSeconds == 0 {
		rs.TimeoutSeconds = ptr(DefaultTimeoutSeconds)
	}
	if rs.ContainerConcurrency == nil {
		rs.ContainerConcurrency = ptr(DefaultContainerConcurrency)
	}
	readOnly := map[string]bool{}
	for _, v := range rs.Volumes {
		readOnly[v.Name] = v.ConfigMap != nil || v.Secret != nil || v.Projected != nil
	}
	for i := range rs.Containers {
		c := &rs.Containers[i]
		if c.Name == "" {
			c.Name = DefaultUserContainerName
			if len(rs.Containers) > 1 {
				c.Name = fmt.Sprintf("%s-%d", DefaultUserContainerName, i)
			}
		}
		if len(c.Ports) == 0 {
			c.Ports = []corev1.ContainerPort{{ContainerPort: DefaultUserPort}}
		} else if c.Ports[0].ContainerPort == 0 {
			c.Ports[0].ContainerPort = DefaultUserPort
		}
		if c.ReadinessProbe == nil {
			c.ReadinessProbe = &corev1.Probe{}
		}
		if h := &c.ReadinessProbe.ProbeHandler; h.TCPSocket == nil && h.HTTPGet == nil && h.Exec == nil && h.GRPC == nil {
			h.TCPSocket = &corev1.TCPSocketAction{}
		}
		if c.ReadinessProbe.SuccessThreshold == 0 {
			c.ReadinessProbe.SuccessThreshold = 1
		}
		for j := range c.VolumeMounts {
			if readOnly[c.VolumeMounts[j].Name] {
				c.VolumeMounts[j].ReadOnly = true
			}
		}
	}
}

// SetDefaults applies the revision spec's defaults.
func (r *Revision) SetDefaults() { r.Spec.SetDefaults() }

// SetDefaults applies the revision spec's defaults to the template.
func (t *RevisionTemplateSpec) SetDefaults() { t.Spec.SetDefaults() }

// Validate checks the revision's name (a DNS-1035 label), its labels (only the
// serving.knative.dev/ ones the controllers set), its autoscaling annotations and its spec.
func (r *Revision) Validate() field.ErrorList {
	errs := validateObjectName(r.Name, r.GenerateName)
	errs = append(errs, validateServingLabels(r.Labels, ServiceLabelKey, ConfigurationLabelKey, ConfigurationGenerationLabelKey,
		ConfigurationUIDLabelKey, ServiceUIDLabelKey, RouteLabelKey, RoutingStateLabelKey)...)
	_, aerrs := ParseAutoscaling(r.Annotations)
	errs = append(errs, aerrs...)
	return append(errs, r.Spec.Validate(field.NewPath("spec"))...)
}

// ValidateUpdate rejects any change of the spec: revisions are immutable.
func (r *Revision) ValidateUpdate(old *Revision) field.ErrorList {
	if apiequality.Semantic.DeepEqual(old.Spec, r.Spec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf(
		"a revision is immutable (changed: %s): change the configuration's template to create a new revision",
		strings.Join(changedFields(old.Spec, r.Spec), ", ")))}
}

// changedFields names the top-level JSON fields that differ between a and b.
func changedFields(a, b any) []string {
	toMap := func(v any) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		if data, err := json.Marshal(v); err == nil {
			_ = json.Unmarshal(data, &m)
		}
		return m
	}
	ma, mb := toMap(a), toMap(b)
	var out []string
	for k, va := range ma {
		if vb, ok := mb[k]; !ok || string(va) != string(vb) {
			out = append(out, k)
		}
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = []string{"spec"}
	}
	return out
}

// Validate checks a revision spec at p (spec, or spec.template.spec), as Knative's webhook
// does, on a defaulted spec or not: exactly one container, the fields of the pod spec and the
// container Knative allows, the container (image, port, env, probes, resources, mounts), the
// volumes, containerConcurrency (0 to 1000) and the timeouts (0 < timeoutSeconds ≤ 600, 0 or
// unset meaning the default).
func (rs *RevisionSpec) Validate(p *field.Path) field.ErrorList {
	errs := validatePodSpecFields(p, &rs.PodSpec)
	switch n := len(rs.Containers); {
	case n == 0:
		errs = append(errs, field.Required(p.Child("containers"), "a revision runs one container"))
	case n > 1:
		for i := 1; i < n; i++ {
			errs = append(errs, field.Forbidden(p.Child("containers").Index(i),
				"Eddy runs exactly one container per revision: Knative's multi-container revisions (sidecars) are not supported"))
		}
	}
	volumes, verrs := validateVolumes(p.Child("volumes"), rs.Volumes)
	errs = append(errs, verrs...)
	mounted := map[string]bool{}
	for i := range rs.Containers {
		errs = append(errs, validateContainer(p.Child("containers").Index(i), &rs.Containers[i], volumes)...)
		for _, m := range rs.Containers[i].VolumeMounts {
			mounted[m.Name] = true
		}
	}
	var unmounted []string
	for _, v := range rs.Volumes {
		if v.Name != "" && !mounted[v.Name] {
			unmounted = append(unmounted, v.Name)
		}
	}
	if len(unmounted) > 0 {
		errs = append(errs, field.Invalid(p.Child("volumes"), strings.Join(unmounted, ", "), "volumes not mounted by the container"))
	}
	if cc := rs.ContainerConcurrency; cc != nil && (*cc < 0 || *cc > MaxContainerConcurrency) {
		errs = append(errs, field.Invalid(p.Child("containerConcurrency"), *cc,
			fmt.Sprintf("must be between 0 (unlimited) and %d", MaxContainerConcurrency)))
	}
	timeout := MaxTimeoutSeconds
	if t := rs.TimeoutSeconds; t != nil {
		if *t < 0 || *t > MaxTimeoutSeconds {
			errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *t,
				fmt.Sprintf("must be between 1 and %d (0 or unset is the default, %d)", MaxTimeoutSeconds, DefaultTimeoutSeconds)))
		} else if *t > 0 {
			timeout = *t
		}
	}
	if t := rs.ResponseStartTimeoutSeconds; t != nil && (*t < 0 || *t > timeout) {
		errs = append(errs, field.Invalid(p.Child("responseStartTimeoutSeconds"), *t,
			fmt.Sprintf("must be between 0 and timeoutSeconds (%d)", timeout)))
	}
	if t := rs.IdleTimeoutSeconds; t != nil && (*t < 0 || *t > MaxTimeoutSeconds) {
		errs = append(errs, field.Invalid(p.Child("idleTimeoutSeconds"), *t,
			fmt.Sprintf("must be between 0 and %d", MaxTimeoutSeconds)))
	}
	return errs
}

// ConfigurationName returns the configuration that created the revision (its label).
func (r *Revision) ConfigurationName() string { return r.Labels[ConfigurationLabelKey] }

// GetStatus returns the condition-bearing part of the status.
func (r *Revision) GetStatus() *api.Status { return &r.Status.Status }

// RevisionStatus is the observed state of a Revision.
type RevisionStatus struct {
	api.Status `json:",inline"`
	// LogURL links to the revision's logs, when Eddy is configured with a log URL template.
	LogURL string `json:"logUrl,omitempty"`
	// ContainerStatuses report the container's image digest.
	ContainerStatuses []ContainerStatus `json:"containerStatuses,omitempty"`
	// ActualReplicas is the number of ready instances.
	ActualReplicas *int32 `json:"actualReplicas,omitempty"`
	// DesiredReplicas is the number of instances the autoscaler asks for.
	DesiredReplicas *int32 `json:"desiredReplicas,omitempty"`
}

// ContainerStatus is the resolved image of a revision's container.
type ContainerStatus struct {
	// Name is the container's name.
	Name string `json:"name,omitempty"`
	// ImageDigest is the image the container runs, by digest when the runtime knows it.
	ImageDigest string `json:"imageDigest,omitempty"`
}

// The conditions of a Revision.
const (
	// RevisionConditionResourcesAvailable is True when the runtime has what it needs to run
	// the revision (the image resolved, the instances could be created).
	RevisionConditionResourcesAvailable api.ConditionType = "ResourcesAvailable"
	// RevisionConditionContainerHealthy is True once an instance passed its readiness probe.
	RevisionConditionContainerHealthy api.ConditionType = "ContainerHealthy"
	// RevisionConditionActive is True while the revision has instances (or is being scaled
	// up for a request). It is not part of Ready: a revision scaled to zero is still Ready.
	RevisionConditionActive api.ConditionType = "Active"
)

// Reasons the revision conditions carry.
const (
	// ReasonDeploying: the revision's first instance is starting.
	ReasonDeploying = "Deploying"
	// ReasonNoTraffic: the revision was scaled to zero (Active False).
	ReasonNoTraffic = "NoTraffic"
	// ReasonActivating: a request is waiting for the revision to scale up from zero.
	ReasonActivating = "Activating"
	// ReasonProgressDeadlineExceeded: no instance became ready in time.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonContainerMissing: the image cannot be found or run.
	ReasonContainerMissing = "ContainerMissing"
)

// ExitCodeReason returns the reason of a container that exited with code: "ExitCode1".
func ExitCodeReason(code int32) string { return fmt.Sprintf("ExitCode%d", code) }

// RevisionConditionSet is the condition set of a Revision: Ready follows ResourcesAvailable and
// ContainerHealthy. Active is reported besides, as in Knative.
var RevisionConditionSet = api.NewLivingConditionSet(RevisionConditionResourcesAvailable, RevisionConditionContainerHealthy)

func (s *RevisionStatus) manage() *api.ConditionManager {
	return RevisionConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition of the set to Unknown (Active is not
// one of them).
func (s *RevisionStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *RevisionStatus) IsReady() bool { return s.manage().IsHappy() }

// IsActive reports whether Active is True.
func (s *RevisionStatus) IsActive() bool { return s.GetCondition(RevisionConditionActive).IsTrue() }

// MarkResourcesAvailableTrue records that the runtime can run the revision.
func (s *RevisionStatus) MarkResourcesAvailableTrue() {
	s.manage().MarkTrue(RevisionConditionResourcesAvailable)
}

// MarkResourcesAvailableFalse records why the runtime cannot run the revision.
func (s *RevisionStatus) MarkResourcesAvailableFalse(reason, format string, args ...any) {
	s.manage().MarkFalse(RevisionConditionResourcesAvailable, reason, format, args...)
}

// MarkResourcesAvailableUnknown records what the runtime is waiting for.
func (s *RevisionStatus) MarkResourcesAvailableUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(RevisionConditionResourcesAvailable, reason, format, args...)
}

// MarkContainerHealthyTrue records that an instance passed its readiness probe.
func (s *RevisionStatus) MarkContainerHealthyTrue() {
	s.manage().MarkTrue(RevisionConditionContainerHealthy)
}

// MarkContainerHealthyFalse records why the container is unhealthy.
func (s *RevisionStatus) MarkContainerHealthyFalse(reason, format string, args ...any) {
	s.manage().MarkFalse(RevisionConditionContainerHealthy, reason, format, args...)
}

// MarkContainerHealthyUnknown records that the container's health is not known yet.
func (s *RevisionStatus) MarkContainerHealthyUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(RevisionConditionContainerHealthy, reason, format, args...)
}

// MarkContainerExiting records that the container exited with code: ContainerHealthy False,
// reason ExitCode<code>.
func (s *RevisionStatus) MarkContainerExiting(code int32, message string) {
	s.MarkContainerHealthyFalse(ExitCodeReason(code), "Container failed with: %s", message)
}

// MarkActiveTrue records that the revision has instances.
func (s *RevisionStatus) MarkActiveTrue() { s.manage().MarkTrue(RevisionConditionActive) }

// MarkActiveFalse records that the revision has no instances, and why (ReasonNoTraffic).
func (s *RevisionStatus) MarkActiveFalse(reason, format string, args ...any) {
	s.manage().MarkFalse(RevisionConditionActive, reason, format, args...)
}

// MarkActiveUnknown records that the revision is being scaled (ReasonActivating,
// ReasonDeploying).
func (s *RevisionStatus) MarkActiveUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(RevisionConditionActive, reason, format, args...)
}

// SetReplicas records the autoscaler's desired and the runtime's actual number of instances.
func (s *RevisionStatus) SetReplicas(actual, desired int32) {
	s.ActualReplicas, s.DesiredReplicas = ptr(actual), ptr(desired)
}
