package channelsv1alpha1

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/messaging"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Bus says which backend carries the channels that name it, with which settings. A Bus is
// namespaced: channels of its namespace name it with spec.bus or the annotation "Bus/NAME".
type Bus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              BusSpec   `json:"spec"`
	Status            BusStatus `json:"status,omitempty"`
}

// ClusterBus is a cluster-scoped Bus: channels of any namespace name it with spec.clusterBus or
// the annotation "ClusterBus/NAME" (or "NAME").
type ClusterBus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              BusSpec   `json:"spec"`
	Status            BusStatus `json:"status,omitempty"`
}

// BusSpec is the spec of a Bus or a ClusterBus.
type BusSpec struct {
	// Type is the backend: stub, kafka, rabbitmq, pubsub or nats. Defaulting infers it for
	// 2018 manifests from the bus name or its dispatcher's image (stub, kafka, gcppubsub,
	// natss buses).
	Type messaging.BusType `json:"type,omitempty"`
	// Config holds the backend's settings (for example Kafka's "bootstrapServers"); the bus
	// package of each backend documents its keys. Credentials do not belong here.
	Config map[string]string `json:"config,omitempty"`
	// SecretRef names the Secret holding the backend's credentials; its keys are the
	// backend's to define. A Bus's secret is in the Bus's namespace (namespace empty or
	// equal); a ClusterBus names the namespace.
	SecretRef *corev1.SecretReference `json:"secretRef,omitempty"`

	// Parameters declares the arguments channels and subscriptions pass (2018).
	Parameters *BusParameters `json:"parameters,omitempty"`
	// Provisioner is the 2018 provisioner container: accepted and ignored.
	Provisioner *runtime.RawExtension `json:"provisioner,omitempty"`
	// Dispatcher is the 2018 dispatcher container: accepted and ignored (its image helps infer
	// Type).
	Dispatcher *runtime.RawExtension `json:"dispatcher,omitempty"`
	// Volumes are the 2018 containers' volumes: accepted and ignored.
	Volumes *runtime.RawExtension `json:"volumes,omitempty"`
}

// BusParameters are the parameters a bus declares for channels and subscriptions.
type BusParameters struct {
	// Channel parameters, fulfilled by a Channel's spec.arguments.
	Channel *[]Parameter `json:"channel,omitempty"`
	// Subscription parameters, fulfilled by a Subscription's spec.arguments.
	Subscription *[]Parameter `json:"subscription,omitempty"`
}

// BusStatus is the observed state of a Bus or ClusterBus.
type BusStatus struct {
	api.Status `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (b *Bus) GetStatus() *api.Status { return &b.Status.Status }

// GetStatus returns the condition-bearing part of the status.
func (b *ClusterBus) GetStatus() *api.Status { return &b.Status.Status }

// SetDefaults infers spec.type for 2018 manifests.
func (b *Bus) SetDefaults() { b.Spec.setDefaults(b.Name) }

// SetDefaults infers spec.type for 2018 manifests.
func (b *ClusterBus) SetDefaults() { b.Spec.setDefaults(b.Name) }

// Validate checks the type, the config, the secret reference (in the Bus's namespace) and
// the parameters.
func (b *Bus) Validate() field.ErrorList { return b.Spec.validate(b.Namespace, true) }

// Validate checks the type, the config, the secret reference (its namespace is required) and
// the parameters.
func (b *ClusterBus) Validate() field.ErrorList { return b.Spec.validate("", false) }

// legacyBusTypes maps the names of the 2018 buses (and Eddy's) to bus types.
var legacyBusTypes = map[string]messaging.BusType{
	"stub": messaging.BusStub, "in-memory": messaging.BusStub, "inmemory": messaging.BusStub,
	"kafka":    messaging.BusKafka,
	"rabbitmq": messaging.BusRabbitMQ,
	"pubsub":   messaging.BusPubSub, "gcppubsub": messaging.BusPubSub,
	"nats": messaging.BusNATS, "natss": messaging.BusNATS,
}

// busImage finds the bus name in a 2018 image path such as
// github.com/knative/eventing/pkg/buses/kafka/dispatcher or …/pkg/buses/stub@sha256:….
var busImage = regexp.MustCompile(`/buses/([a-z0-9]+)(?:[/@:]|$)`)

func (s *BusSpec) setDefaults(name string) {
	if s.Type != "" {
		return
	}
	if t, ok := legacyBusTypes[name]; ok {
		s.Type = t
		return
	}
	for _, c := range []*runtime.RawExtension{s.Dispatcher, s.Provisioner} {
		if c == nil {
			continue
		}
		var container struct {
			Image string `json:"image"`
		}
		if json.Unmarshal(c.Raw, &container) != nil {
			continue
		}
		if m := busImage.FindStringSubmatch(container.Image); m != nil {
			if t, ok := legacyBusTypes[m[1]]; ok {
				s.Type = t
				return
			}
		}
	}
}

// secretKeyWords mark config keys that would hold credentials.
var secretKeyWords = []string{"password", "passwd", "secret", "token", "credential", "privatekey", "private-key", "private_key", "apikey", "api-key", "api_key"}

func (s *BusSpec) validate(namespace string, namespaced bool) field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	switch {
	case s.Type == "":
		errs = append(errs, field.Required(sp.Child("type"), "one of "+strings.Join(messaging.BusTypeNames(), ", ")))
	case !s.Type.IsValid():
		errs = append(errs, field.NotSupported(sp.Child("type"), s.Type, messaging.BusTypeNames()))
	}
	keys := make([]string, 0, len(s.Config))
	for k := range s.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := sp.Child("config").Key(k)
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(kp, k, msg))
		}
		lk := strings.ToLower(k)
		for _, w := range secretKeyWords {
			if strings.Contains(lk, w) {
				errs = append(errs, field.Forbidden(kp, "credentials must not be written in spec.config: put them in a Secret and name it in spec.secretRef"))
				break
			}
		}
		if u, err := url.Parse(s.Config[k]); err == nil && u.User != nil {
			if _, hasPassword := u.User.Password(); hasPassword {
				errs = append(errs, field.Forbidden(kp, "the URL carries a password: put credentials in a Secret and name it in spec.secretRef"))
			}
		}
	}
	if r := s.SecretRef; r != nil {
		rp := sp.Child("secretRef")
		if r.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
				errs = append(errs, field.Invalid(rp.Child("name"), r.Name, msg))
			}
		}
		switch {
		case namespaced && r.Namespace != "" && r.Namespace != namespace:
			errs = append(errs, field.Invalid(rp.Child("namespace"), r.Namespace, fmt.Sprintf("a Bus's secret must be in its namespace %q: leave namespace empty", namespace)))
		case !namespaced && r.Namespace == "":
			errs = append(errs, field.Required(rp.Child("namespace"), "a ClusterBus names the namespace of its secret"))
		case r.Namespace != "":
			for _, msg := range validation.IsDNS1123Label(r.Namespace) {
				errs = append(errs, field.Invalid(rp.Child("namespace"), r.Namespace, msg))
			}
		}
	}
	if s.Parameters != nil {
		pp := sp.Child("parameters")
		errs = append(errs, validateParameters(pp.Child("channel"), s.Parameters.Channel)...)
		errs = append(errs, validateParameters(pp.Child("subscription"), s.Parameters.Subscription)...)
	}
	errs = append(errs, validateRaw(sp.Child("provisioner"), s.Provisioner, '{')...)
	errs = append(errs, validateRaw(sp.Child("dispatcher"), s.Dispatcher, '{')...)
	return append(errs, validateRaw(sp.Child("volumes"), s.Volumes, '[')...)
}

// validateRaw checks that a loosely typed 2018 field is a JSON object ('{') or list ('[').
func validateRaw(p *field.Path, r *runtime.RawExtension, open byte) field.ErrorList {
	if r == nil || len(r.Raw) == 0 {
		return nil
	}
	raw := strings.TrimSpace(string(r.Raw))
	if raw == "" || raw == "null" || raw[0] == open {
		return nil
	}
	what := "an object"
	if open == '[' {
		what = "a list"
	}
	return field.ErrorList{field.Invalid(p, raw, "must be "+what)}
}

// BusConditionBackendReady is True when the bus's backend is reachable with its settings and
// credentials.
const BusConditionBackendReady api.ConditionType = "BackendReady"

// BusConditionSet is the condition set of Bus and ClusterBus.
var BusConditionSet = api.NewLivingConditionSet(BusConditionBackendReady)

// InitializeConditions sets every missing condition to Unknown.
func (s *BusStatus) InitializeConditions() { BusConditionSet.Manage(&s.Status).InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *BusStatus) IsReady() bool { return BusConditionSet.Manage(&s.Status).IsHappy() }

// MarkBackendReady records that the backend is reachable.
func (s *BusStatus) MarkBackendReady() {
	BusConditionSet.Manage(&s.Status).MarkTrue(BusConditionBackendReady)
}

// MarkBackendFailed records why the backend is not usable, such as a missing secret.
func (s *BusStatus) MarkBackendFailed(reason, format string, args ...any) {
	BusConditionSet.Manage(&s.Status).MarkFalse(BusConditionBackendReady, reason, format, args...)
}
