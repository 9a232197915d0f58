package sources

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CloudPubSubSourceVersion is the version of CloudPubSubSource, as Knative-GCP serves it.
const CloudPubSubSourceVersion = VersionV1

// CloudPubSubSourceEventType is the CloudEvents type of a CloudPubSubSource's events.
const CloudPubSubSourceEventType = "google.cloud.pubsub.topic.v1.messagePublished"

// CloudPubSubSourceEventSource returns the CloudEvents source of the messages of a topic.
func CloudPubSubSourceEventSource(project, topic string) string {
	return fmt.Sprintf("//pubsub.googleapis.com/projects/%s/topics/%s", project, topic)
}

// Knative-GCP's defaults and limits of a CloudPubSubSource.
const (
	DefaultAckDeadline       = 30 * time.Second
	DefaultRetentionDuration = 7 * 24 * time.Hour
	MinAckDeadline           = 0
	MaxAckDeadline           = 10 * time.Minute
	MinRetentionDuration     = 10 * time.Second
	MaxRetentionDuration     = 7 * 24 * time.Hour
)

// DefaultGoogleCloudSecret is the credentials Secret key of a CloudPubSubSource that names
// neither a secret nor a service account, Knative-GCP's default.
var DefaultGoogleCloudSecret = corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "google-cloud-key"}, Key: "key.json"}

// CloudPubSubSource pulls the messages of a Google Cloud Pub/Sub topic through a subscription
// of its own and sends each to its sink as a CloudEvent.
type CloudPubSubSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              CloudPubSubSourceSpec   `json:"spec,omitempty"`
	Status            CloudPubSubSourceStatus `json:"status,omitempty"`
}

// CloudPubSubSourceSpec is the desired state of a CloudPubSubSource.
type CloudPubSubSourceSpec struct {
	// PubSubSpec holds the sink, the overrides, the credentials and the project.
	PubSubSpec `json:",inline"`
	// Topic is the topic ID within the project ("laconia", not
	// "projects/my-proj/topics/laconia"). Required; immutable.
	Topic string `json:"topic"`
	// AckDeadline is how long a message may go unacknowledged, a Go duration from 0s to 10m;
	// defaults to 30s.
	AckDeadline *string `json:"ackDeadline,omitempty"`
	// RetainAckedMessages keeps acknowledged messages for RetentionDuration.
	RetainAckedMessages bool `json:"retainAckedMessages,omitempty"`
	// RetentionDuration is how long messages are kept, a Go duration from 10s to 168h;
	// defaults to 168h (7 days).
	RetentionDuration *string `json:"retentionDuration,omitempty"`
}

// PubSubSpec is the part Knative-GCP's Pub/Sub based sources share.
type PubSubSpec struct {
	// SourceSpec holds the sink and the CloudEvents overrides.
	duck.SourceSpec `json:",inline"`
	// ServiceAccountName is the Kubernetes ServiceAccount bound to a Google service account
	// (workload identity); it excludes Secret. Immutable.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Secret is the Secret key holding a Google service account key (JSON); it defaults to
	// google-cloud-key/key.json when ServiceAccountName is empty. Immutable.
	Secret *corev1.SecretKeySelector `json:"secret,omitempty"`
	// Project is the Google Cloud project of the topic; the cluster's when empty. Immutable.
	Project string `json:"project,omitempty"`
}

// CloudPubSubSourceStatus is the observed state of a CloudPubSubSource.
type CloudPubSubSourceStatus struct {
	duck.SourceStatus `json:",inline"`
	// ServiceAccountName is the Kubernetes ServiceAccount bound to a Google service account.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// ProjectID is the topic's project, resolved when spec.project is empty.
	ProjectID string `json:"projectId,omitempty"`
	// TopicID is the topic.
	TopicID string `json:"topicId,omitempty"`
	// SubscriptionID is the subscription the source created and pulls from.
	SubscriptionID string `json:"subscriptionId,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *CloudPubSubSource) GetStatus() *api.Status { return &s.Status.Status }

// AckDeadlineDuration returns spec.ackDeadline, or DefaultAckDeadline when it is unset or
// malformed.
func (s *CloudPubSubSourceSpec) AckDeadlineDuration() time.Duration {
	return durationOr(s.AckDeadline, DefaultAckDeadline)
}

// RetentionDurationValue returns spec.retentionDuration, or DefaultRetentionDuration when it
// is unset or malformed.
func (s *CloudPubSubSourceSpec) RetentionDurationValue() time.Duration {
	return durationOr(s.RetentionDuration, DefaultRetentionDuration)
}

func durationOr(s *string, def time.Duration) time.Duration {
	if s != nil {
		if d, err := time.ParseDuration(*s); err == nil {
			return d
		}
	}
	return def
}

// CloudEventAttributes returns the type and source of the events sent, for status.ceAttributes.
// project is the topic's project (status.projectId).
func (s *CloudPubSubSource) CloudEventAttributes(project string) []duck.CloudEventAttributes {
	return []duck.CloudEventAttributes{{Type: CloudPubSubSourceEventType, Source: CloudPubSubSourceEventSource(project, s.Spec.Topic)}}
}

// SetDefaults sets ackDeadline to 30s and retentionDuration to 168h0m0s, the credentials
// Secret to DefaultGoogleCloudSecret when neither it nor a service account is named, and the
// sink ref's namespace, as Knative-GCP does.
func (s *CloudPubSubSource) SetDefaults() {
	if s.Spec.AckDeadline == nil {
		d := DefaultAckDeadline.String()
		s.Spec.AckDeadline = &d
	}
	if s.Spec.RetentionDuration == nil {
		d := DefaultRetentionDuration.String()
		s.Spec.RetentionDuration = &d
	}
	if s.Spec.Secret != nil && *s.Spec.Secret == (corev1.SecretKeySelector{}) {
		s.Spec.Secret = nil
	}
	if s.Spec.Secret == nil && s.Spec.ServiceAccountName == "" {
		secret := DefaultGoogleCloudSecret
		s.Spec.Secret = &secret
	}
	s.Spec.SourceSpec.SetDefaults(s.Namespace)
}

var (
	// pubSubTopic is a Pub/Sub resource ID: 3 to 255 characters, starting with a letter.
	pubSubTopic = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)
	// gcpProject is a Google Cloud project ID, optionally domain-scoped ("example.com:proj").
	gcpProject = regexp.MustCompile(`^(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// kubernetesSAName is Knative-GCP's rule for spec.serviceAccountName.
	kubernetesSAName = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$`)
)

// Validate checks the topic (a Pub/Sub topic ID), the project, the sink (required), the
// durations and their bounds, and the credentials (a Secret key or a service account, not
// both).
func (s *CloudPubSubSource) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	switch t := s.Spec.Topic; {
	case t == "":
		errs = append(errs, field.Required(sp.Child("topic"), "the topic ID"))
	case strings.HasPrefix(t, "projects/"):
		errs = append(errs, field.Invalid(sp.Child("topic"), t, `must be the topic ID, not its full name: set spec.project for the project`))
	case !pubSubTopic.MatchString(t) || strings.HasPrefix(t, "goog"):
		errs = append(errs, field.Invalid(sp.Child("topic"), t, "must be a Pub/Sub topic ID: 3 to 255 letters, digits and - _ . ~ + %, starting with a letter and not with goog"))
	}
	if p := s.Spec.Project; p != "" && !gcpProject.MatchString(p) {
		errs = append(errs, field.Invalid(sp.Child("project"), p, "must be a Google Cloud project ID: 6 to 30 lower-case letters, digits and hyphens, starting with a letter"))
	}
	errs = append(errs, validateGoDuration(sp.Child("ackDeadline"), s.Spec.AckDeadline, MinAckDeadline, MaxAckDeadline)...)
	errs = append(errs, validateGoDuration(sp.Child("retentionDuration"), s.Spec.RetentionDuration, MinRetentionDuration, MaxRetentionDuration)...)
	secretSet := s.Spec.Secret != nil && *s.Spec.Secret != (corev1.SecretKeySelector{})
	switch {
	case secretSet && s.Spec.ServiceAccountName != "":
		errs = append(errs, field.Forbidden(sp.Child("secret"), "set spec.serviceAccountName or spec.secret, not both"))
	case secretSet:
		errs = append(errs, validateSecretKeySelector(sp.Child("secret"), s.Spec.Secret)...)
	case s.Spec.ServiceAccountName != "" && !kubernetesSAName.MatchString(s.Spec.ServiceAccountName):
		errs = append(errs, field.Invalid(sp.Child("serviceAccountName"), s.Spec.ServiceAccountName, "must be a Kubernetes ServiceAccount name: letters, digits and hyphens, at most 63"))
	}
	return append(errs, s.Spec.SourceSpec.Validate(sp, s.Namespace)...)
}

func validateGoDuration(p *field.Path, s *string, min, max time.Duration) field.ErrorList {
	if s == nil {
		return nil
	}
	d, err := time.ParseDuration(*s)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, *s, `must be a Go duration, such as "30s" or "168h"`)}
	case d < min || d > max:
		return field.ErrorList{field.Invalid(p, *s, fmt.Sprintf("must be from %v to %v", min, max))}
	}
	return nil
}

// ValidateUpdate rejects a change of spec.topic, spec.project, spec.secret or
// spec.serviceAccountName, as Knative-GCP does; the sink, the overrides and the subscription
// settings may change.
func (s *CloudPubSubSource) ValidateUpdate(old *CloudPubSubSource) field.ErrorList {
	sp := field.NewPath("spec")
	errs := apivalidation.ValidateImmutableField(s.Spec.Topic, old.Spec.Topic, sp.Child("topic"))
	errs = append(errs, apivalidation.ValidateImmutableField(s.Spec.Project, old.Spec.Project, sp.Child("project"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(s.Spec.Secret, old.Spec.Secret, sp.Child("secret"))...)
	return append(errs, apivalidation.ValidateImmutableField(s.Spec.ServiceAccountName, old.Spec.ServiceAccountName, sp.Child("serviceAccountName"))...)
}

// The conditions of a CloudPubSubSource. Knative-GCP's source reports PullSubscriptionReady,
// propagated from the PullSubscription it creates; Eddy pulls itself and reports the same
// condition, and SinkProvided.
const (
	// CloudPubSubSourceConditionSinkProvided is True when the sink resolved to a URL.
	CloudPubSubSourceConditionSinkProvided = duck.SourceConditionSinkProvided
	// PullSubscriptionReady is True when the subscription exists and messages are pulled.
	PullSubscriptionReady api.ConditionType = "PullSubscriptionReady"
)

// CloudPubSubSourceConditionSet is the condition set of a CloudPubSubSource: Ready follows
// SinkProvided and PullSubscriptionReady.
var CloudPubSubSourceConditionSet = api.NewLivingConditionSet(CloudPubSubSourceConditionSinkProvided, PullSubscriptionReady)

func (s *CloudPubSubSourceStatus) manage() *api.ConditionManager {
	return CloudPubSubSourceConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *CloudPubSubSourceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *CloudPubSubSourceStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkSink records the resolved sink URL (SinkProvided False with reason SinkEmpty when uri
// is empty).
func (s *CloudPubSubSourceStatus) MarkSink(uri string) {
	markSink(CloudPubSubSourceConditionSet, &s.SourceStatus, uri)
}

// MarkNoSink records why the sink did not resolve.
func (s *CloudPubSubSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(CloudPubSubSourceConditionSet, &s.SourceStatus, reason, format, args...)
}

// MarkPullSubscriptionReady records the project, topic and subscription pulled from.
func (s *CloudPubSubSourceStatus) MarkPullSubscriptionReady(projectID, topicID, subscriptionID string) {
	s.ProjectID, s.TopicID, s.SubscriptionID = projectID, topicID, subscriptionID
	s.manage().MarkTrue(PullSubscriptionReady)
}

// MarkPullSubscriptionUnknown records that the subscription is being set up.
func (s *CloudPubSubSourceStatus) MarkPullSubscriptionUnknown(reason, format string, args ...any) {
	s.manage().MarkUnknown(PullSubscriptionReady, reason, format, args...)
}

// MarkPullSubscriptionFailed records why the subscription could not be set up or pulled.
func (s *CloudPubSubSourceStatus) MarkPullSubscriptionFailed(reason, format string, args ...any) {
	s.manage().MarkFalse(PullSubscriptionReady, reason, format, args...)
}
