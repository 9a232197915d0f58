package sources

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KafkaSourceVersion is the storage version of KafkaSource; v1 is served with the same schema
// (Knative's documentation writes sources.knative.dev/v1).
const KafkaSourceVersion = VersionV1beta1

// KafkaEventType is the CloudEvents type of a KafkaSource's events.
const KafkaEventType = "dev.knative.kafka.event"

// KafkaKeyTypeLabel chooses how a KafkaSource decodes record keys: one of KafkaKeyTypes.
const KafkaKeyTypeLabel = "kafkasources.sources.knative.dev/key-type"

// KafkaKeyTypes are the values KafkaKeyTypeLabel accepts.
var KafkaKeyTypes = []string{"string", "int", "float", "byte-array"}

// KafkaConsumerGroupPrefix starts the consumer group of a KafkaSource that names none.
const KafkaConsumerGroupPrefix = "knative-kafka-source-"

// KafkaEventSource returns the CloudEvents source of the records of topic read by KafkaSource
// namespace/name.
func KafkaEventSource(namespace, name, topic string) string {
	return sourcePath(namespace, "kafkasources", name) + "#" + topic
}

// Offset is where a new consumer group starts reading: earliest or latest.
type Offset string

// The initial offsets.
const (
	OffsetEarliest Offset = "earliest"
	OffsetLatest   Offset = "latest"
)

// DeliveryOrdering says whether a partition's records are delivered one at a time, in order.
type DeliveryOrdering string

// The delivery orderings.
const (
	Ordered   DeliveryOrdering = "ordered"
	Unordered DeliveryOrdering = "unordered"
)

// KafkaSource reads records from Kafka topics and sends each to its sink as a CloudEvent.
type KafkaSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KafkaSourceSpec   `json:"spec,omitempty"`
	Status            KafkaSourceStatus `json:"status,omitempty"`
}

// KafkaSourceSpec is the desired state of a KafkaSource.
type KafkaSourceSpec struct {
	// Consumers is the number of consumers in the group; defaults to 1.
	Consumers *int32 `json:"consumers,omitempty"`
	// KafkaAuthSpec holds the bootstrap servers and the SASL and TLS settings.
	KafkaAuthSpec `json:",inline"`
	// Topics to read. At least one.
	Topics []string `json:"topics"`
	// ConsumerGroup is the consumer group ID; immutable. When empty, the group is
	// KafkaConsumerGroupPrefix followed by the object's UID (see ConsumerGroupName).
	ConsumerGroup string `json:"consumerGroup,omitempty"`
	// InitialOffset is where a new group starts: earliest or latest (the default).
	InitialOffset Offset `json:"initialOffset,omitempty"`
	// Delivery is the retry and dead-letter policy for records the sink does not accept.
	Delivery *duck.DeliverySpec `json:"delivery,omitempty"`
	// Ordering is ordered (the default) or unordered.
	Ordering *DeliveryOrdering `json:"ordering,omitempty"`
	// SourceSpec holds the sink and the CloudEvents overrides.
	duck.SourceSpec `json:",inline"`
}

// KafkaAuthSpec says how to reach and authenticate to a Kafka cluster.
type KafkaAuthSpec struct {
	// BootstrapServers are host:port addresses; an entry may hold several, comma-separated.
	BootstrapServers []string `json:"bootstrapServers,omitempty"`
	// Net holds the SASL and TLS settings.
	Net KafkaNetSpec `json:"net,omitempty"`
}

// KafkaNetSpec holds the SASL and TLS settings of a Kafka connection.
type KafkaNetSpec struct {
	// SASL authentication.
	SASL KafkaSASLSpec `json:"sasl,omitempty"`
	// TLS encryption and client certificates.
	TLS KafkaTLSSpec `json:"tls,omitempty"`
}

// KafkaSASLSpec configures SASL authentication; credentials come from Secrets.
type KafkaSASLSpec struct {
	// Enable turns SASL on; user and password are then required.
	Enable bool `json:"enable,omitempty"`
	// User is the Secret key holding the user name.
	User SecretValueFromSource `json:"user,omitempty"`
	// Password is the Secret key holding the password.
	Password SecretValueFromSource `json:"password,omitempty"`
	// Type is the Secret key holding the mechanism: PLAIN (the default), SCRAM-SHA-256 or
	// SCRAM-SHA-512.
	Type SecretValueFromSource `json:"type,omitempty"`
}

// KafkaTLSSpec configures TLS; certificates and keys come from Secrets.
type KafkaTLSSpec struct {
	// Enable turns TLS on.
	Enable bool `json:"enable,omitempty"`
	// Cert is the Secret key holding the client certificate (PEM); it needs Key.
	Cert SecretValueFromSource `json:"cert,omitempty"`
	// Key is the Secret key holding the client private key (PEM); it needs Cert.
	Key SecretValueFromSource `json:"key,omitempty"`
	// CACert is the Secret key holding the CA certificates to trust (PEM).
	CACert SecretValueFromSource `json:"caCert,omitempty"`
}

// KafkaSourceStatus is the observed state of a KafkaSource.
type KafkaSourceStatus struct {
	duck.SourceStatus `json:",inline"`
	// Consumers is the number of consumers running in the group.
	Consumers int32 `json:"consumers,omitempty"`
	// Selector is the label selector of the consumers (Knative's scale subresource).
	Selector string `json:"selector,omitempty"`
	// Claims are the partitions the consumers hold.
	Claims string `json:"claims,omitempty"`
	// Placements say where the consumers run.
	Placements []Placement `json:"placements,omitempty"`
}

// Placement is a number of virtual replicas on one pod, Knative's scheduler duck type.
type Placement struct {
	// PodName is the pod the replicas run in.
	PodName string `json:"podName"`
	// VReplicas is the number of replicas.
	VReplicas int32 `json:"vreplicas"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *KafkaSource) GetStatus() *api.Status { return &s.Status.Status }

// ConsumerGroupName returns spec.consumerGroup, or KafkaConsumerGroupPrefix and the UID when
// it is empty.
func (s *KafkaSource) ConsumerGroupName() string {
	if s.Spec.ConsumerGroup != "" {
		return s.Spec.ConsumerGroup
	}
	return KafkaConsumerGroupPrefix + string(s.UID)
}

// Servers returns the bootstrap servers, comma-separated entries split.
func (s *KafkaAuthSpec) Servers() []string {
	var out []string
	for _, entry := range s.BootstrapServers {
		for _, server := range strings.Split(entry, ",") {
			if server = strings.TrimSpace(server); server != "" {
				out = append(out, server)
			}
		}
	}
	return out
}

// TopicNames returns the topics, comma-separated entries split.
func (s *KafkaSourceSpec) TopicNames() []string {
	var out []string
	for _, entry := range s.Topics {
		for _, t := range strings.Split(entry, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// CloudEventAttributes returns the type and source of each topic's events, for
// status.ceAttributes.
func (s *KafkaSource) CloudEventAttributes() []duck.CloudEventAttributes {
	var out []duck.CloudEventAttributes
	for _, t := range s.Spec.TopicNames() {
		out = append(out, duck.CloudEventAttributes{Type: KafkaEventType, Source: KafkaEventSource(s.Namespace, s.Name, t)})
	}
	return out
}

// SetDefaults sets consumers to 1, initialOffset to latest, ordering to ordered, the
// consumer group (KafkaConsumerGroupPrefix and the UID, once the object has a UID), and the
// namespaces of the sink's and the dead-letter sink's refs. Knative names the group after a
// random UUID; the UID is as unique and keeps the name stable when the object is applied again.
func (s *KafkaSource) SetDefaults() {
	if s.Spec.Consumers == nil {
		one := int32(1)
		s.Spec.Consumers = &one
	}
	if s.Spec.InitialOffset == "" {
		s.Spec.InitialOffset = OffsetLatest
	}
	if s.Spec.Ordering == nil {
		o := Ordered
		s.Spec.Ordering = &o
	}
	if s.Spec.ConsumerGroup == "" && s.UID != "" {
		s.Spec.ConsumerGroup = s.ConsumerGroupName()
	}
	s.Spec.SourceSpec.SetDefaults(s.Namespace)
	s.Spec.Delivery.SetDefaults(s.Namespace)
}

// kafkaTopic is a legal Kafka topic name.
var kafkaTopic = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// Validate checks the bootstrap servers (host:port), the topics (Kafka's topic names), the
// consumer count, initial offset and ordering, the SASL and TLS Secret references, the key type
// label, the delivery spec, the sink and the overrides.
func (s *KafkaSource) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if len(s.Spec.BootstrapServers) == 0 {
		errs = append(errs, field.Required(sp.Child("bootstrapServers"), "at least one host:port"))
	}
	for i, entry := range s.Spec.BootstrapServers {
		for _, server := range strings.Split(entry, ",") {
			if msg := validateHostPort(strings.TrimSpace(server)); msg != "" {
				errs = append(errs, field.Invalid(sp.Child("bootstrapServers").Index(i), entry, msg))
				break
			}
		}
	}
	if len(s.Spec.Topics) == 0 {
		errs = append(errs, field.Required(sp.Child("topics"), "at least one topic"))
	}
	for i, entry := range s.Spec.Topics {
		for _, t := range strings.Split(entry, ",") {
			if t = strings.TrimSpace(t); !kafkaTopic.MatchString(t) || t == "." || t == ".." {
				errs = append(errs, field.Invalid(sp.Child("topics").Index(i), entry, "must be Kafka topic names: letters, digits, '.', '_' and '-', at most 249, comma-separated"))
				break
			}
		}
	}
	if c := s.Spec.Consumers; c != nil && *c < 0 {
		errs = append(errs, field.Invalid(sp.Child("consumers"), *c, "must be greater than or equal to 0"))
	}
	switch s.Spec.InitialOffset {
	case OffsetEarliest, OffsetLatest:
	default:
		errs = append(errs, field.NotSupported(sp.Child("initialOffset"), s.Spec.InitialOffset, []Offset{OffsetEarliest, OffsetLatest}))
	}
	if o := s.Spec.Ordering; o != nil && *o != Ordered && *o != Unordered {
		errs = append(errs, field.NotSupported(sp.Child("ordering"), *o, []DeliveryOrdering{Ordered, Unordered}))
	}
	errs = append(errs, s.Spec.Net.validate(sp.Child("net"))...)
	if kt, ok := s.Labels[KafkaKeyTypeLabel]; ok {
		supported := false
		for _, v := range KafkaKeyTypes {
			supported = supported || kt == v
		}
		if !supported {
			errs = append(errs, field.NotSupported(field.NewPath("metadata", "labels").Key(KafkaKeyTypeLabel), kt, KafkaKeyTypes))
		}
	}
	errs = append(errs, s.Spec.Delivery.Validate(sp.Child("delivery"), s.Namespace)...)
	return append(errs, s.Spec.SourceSpec.Validate(sp, s.Namespace)...)
}

// validateHostPort returns why s is not host:port, or "".
func validateHostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "must be host:port addresses, comma-separated"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port %q must be a number from 1 to 65535", port)
	}
	return ""
}

// validate checks the Secret references: SASL needs user and password when enabled, a TLS
// client certificate needs its key and the other way round.
func (n *KafkaNetSpec) validate(p *field.Path) field.ErrorList {
	sasl, tls := p.Child("sasl"), p.Child("tls")
	errs := n.SASL.User.validate(sasl.Child("user"), n.SASL.Enable, "the SASL user name")
	errs = append(errs, n.SASL.Password.validate(sasl.Child("password"), n.SASL.Enable, "the SASL password")...)
	errs = append(errs, n.SASL.Type.validate(sasl.Child("type"), false, "")...)
	errs = append(errs, n.TLS.Cert.validate(tls.Child("cert"), !n.TLS.Key.IsEmpty(), "the client certificate that goes with tls.key")...)
	errs = append(errs, n.TLS.Key.validate(tls.Child("key"), !n.TLS.Cert.IsEmpty(), "the private key of tls.cert")...)
	return append(errs, n.TLS.CACert.validate(tls.Child("caCert"), false, "")...)
}

// ValidateUpdate rejects a change of the consumer group (spec.consumerGroup, or the group
// named after the UID when it is empty), as Knative does: offsets are committed under it.
func (s *KafkaSource) ValidateUpdate(old *KafkaSource) field.ErrorList {
	updated := *s
	if updated.UID == "" {
		updated.UID = old.UID
	}
	if was, now := old.ConsumerGroupName(), updated.ConsumerGroupName(); was != now {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "consumerGroup"), s.Spec.ConsumerGroup,
			fmt.Sprintf("field is immutable (the consumer group is %q)", was))}
	}
	return nil
}

// The conditions of a KafkaSource, Knative's names.
const (
	// KafkaConditionSinkProvided is True when the sink resolved to a URL.
	KafkaConditionSinkProvided = duck.SourceConditionSinkProvided
	// KafkaConditionDeployed is True when the consumers run.
	KafkaConditionDeployed api.ConditionType = "Deployed"
	// KafkaConditionConnectionEstablished is True when the source reached the Kafka cluster.
	KafkaConditionConnectionEstablished api.ConditionType = "ConnectionEstablished"
	// KafkaConditionInitialOffsetsCommitted is True when the group committed an initial
	// offset for every partition.
	KafkaConditionInitialOffsetsCommitted api.ConditionType = "InitialOffsetsCommitted"
)

// KafkaSourceConditionSet is the condition set of a KafkaSource: Ready follows SinkProvided,
// Deployed, ConnectionEstablished and InitialOffsetsCommitted.
var KafkaSourceConditionSet = api.NewLivingConditionSet(
	KafkaConditionSinkProvided,
	KafkaConditionDeployed,
	KafkaConditionConnectionEstablished,
	KafkaConditionInitialOffsetsCommitted,
)

func (s *KafkaSourceStatus) manage() *api.ConditionManager {
	return KafkaSourceConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *KafkaSourceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *KafkaSourceStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkSink records the resolved sink URL (SinkProvided False with reason SinkEmpty when uri
// is empty).
func (s *KafkaSourceStatus) MarkSink(uri string) {
	markSink(KafkaSourceConditionSet, &s.SourceStatus, uri)
}

// MarkNoSink records why the sink did not resolve.
func (s *KafkaSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(KafkaSourceConditionSet, &s.SourceStatus, reason, format, args...)
}

// MarkDeployed records that consumers consumers run.
func (s *KafkaSourceStatus) MarkDeployed(consumers int32) {
	s.Consumers = consumers
	s.manage().MarkTrue(KafkaConditionDeployed)
}

// MarkDeploying records that the consumers are starting.
func (s *KafkaSourceStatus) MarkDeploying(reason, format string, args ...any) {
	s.manage().MarkUnknown(KafkaConditionDeployed, reason, format, args...)
}

// MarkNotDeployed records why the consumers do not run.
func (s *KafkaSourceStatus) MarkNotDeployed(reason, format string, args ...any) {
	s.Consumers = 0
	s.manage().MarkFalse(KafkaConditionDeployed, reason, format, args...)
}

// MarkConnectionEstablished records that the Kafka cluster was reached.
func (s *KafkaSourceStatus) MarkConnectionEstablished() {
	s.manage().MarkTrue(KafkaConditionConnectionEstablished)
}

// MarkConnectionNotEstablished records why the Kafka cluster could not be reached.
func (s *KafkaSourceStatus) MarkConnectionNotEstablished(reason, format string, args ...any) {
	s.manage().MarkFalse(KafkaConditionConnectionEstablished, reason, format, args...)
}

// MarkInitialOffsetCommitted records that every partition has a committed offset.
func (s *KafkaSourceStatus) MarkInitialOffsetCommitted() {
	s.manage().MarkTrue(KafkaConditionInitialOffsetsCommitted)
}

// MarkInitialOffsetNotCommitted records why the initial offsets could not be committed.
func (s *KafkaSourceStatus) MarkInitialOffsetNotCommitted(reason, format string, args ...any) {
	s.manage().MarkFalse(KafkaConditionInitialOffsetsCommitted, reason, format, args...)
}
