package sources

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/sources/feedsv1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The event sources (spec.trigger.service) of the 2018 feeds that Eddy converts.
const (
	FeedServiceGitHub    = "github"
	FeedServiceK8sEvents = "k8sevents"
	FeedServicePubSub    = "gcppubsub"
)

// feedServices maps every accepted spec.trigger.service to its event source.
var feedServices = map[string]string{
	"github":     FeedServiceGitHub,
	"github.com": FeedServiceGitHub,
	"k8sevents":  FeedServiceK8sEvents,
	"gcppubsub":  FeedServicePubSub,
}

// KubernetesNamespaceNameLabel is the label every namespace carries with its own name; a
// converted k8sevents feed selects its parameters' namespace with it.
const KubernetesNamespaceNameLabel = "kubernetes.io/metadata.name"

// The destinations a feed's action refers to.
const (
	routeAPIVersion   = "serving.knative.dev/v1"
	channelAPIVersion = feedsChannelGroup + "/v1alpha1"
	feedsChannelGroup = "channels.knative.dev"
)

// channelServiceDNS is the DNS name of a 2018 channel's Service: NAME-channel.NAMESPACE.svc,
// optionally followed by .cluster.local.
var channelServiceDNS = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)-channel\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$`)

// FeedService returns the event source a feed observes: github, k8sevents or gcppubsub, from
// spec.trigger.service or, when that is empty, from the event type. The error names the field.
func FeedService(f *feedsv1alpha1.Feed) (string, error) {
	tp := field.NewPath("spec", "trigger")
	if s := f.Spec.Trigger.Service; s != "" {
		if svc, ok := feedServices[s]; ok {
			return svc, nil
		}
		return "", field.NotSupported(tp.Child("service"), s, sortedKeys(feedServices))
	}
	et, _ := feedEventType(f)
	switch {
	case strings.HasPrefix(et, "dev.knative.github."):
		return FeedServiceGitHub, nil
	case et == "dev.knative.k8s.event" || strings.HasPrefix(et, "dev.knative.k8s.event."):
		return FeedServiceK8sEvents, nil
	case et == "google.pubsub.topic.publish":
		return FeedServicePubSub, nil
	}
	return "", field.Required(tp.Child("service"), "the event source: github, k8sevents or gcppubsub")
}

// feedEventType returns the event type a feed names and the path of the field naming it.
func feedEventType(f *feedsv1alpha1.Feed) (string, *field.Path) {
	tp := field.NewPath("spec", "trigger")
	if t := f.Spec.Trigger.ClusterEventType; t != "" && f.Spec.Trigger.EventType == "" {
		return t, tp.Child("clusterEventType")
	}
	return f.Spec.Trigger.EventType, tp.Child("eventType")
}

// FeedToV1 returns the source a 2018 Feed runs as: a GitHubSource for service github, an
// ApiServerSource for k8sevents, a CloudPubSubSource for gcppubsub (see FeedToGitHubSource,
// FeedToApiServerSource and FeedToCloudPubSubSource). The error names the feed's field that
// has no counterpart.
func FeedToV1(f *feedsv1alpha1.Feed) (api.Object, error) {
	svc, err := FeedService(f)
	if err != nil {
		return nil, err
	}
	switch svc {
	case FeedServiceGitHub:
		return FeedToGitHubSource(f)
	case FeedServiceK8sEvents:
		return FeedToApiServerSource(f)
	default:
		return FeedToCloudPubSubSource(f)
	}
}

// FeedSink returns the destination of a feed's action: routeName R is a ref to the
// serving.knative.dev/v1 Route R; channelName C is a ref to the channels.knative.dev/v1alpha1
// Channel C, also when C is that channel's Service DNS name (C-channel.NS.svc.cluster.local
// in the feed's namespace), and otherwise the URI http://C; dnsName D is the URI http://D.
func FeedSink(f *feedsv1alpha1.Feed) (duck.Destination, error) {
	ap := field.NewPath("spec", "action")
	a := f.Spec.Action
	switch {
	case a.RouteName != "":
		return duck.Destination{Ref: &duck.KReference{APIVersion: routeAPIVersion, Kind: "Route", Name: a.RouteName, Namespace: f.Namespace}}, nil
	case a.ChannelName != "":
		if !strings.Contains(a.ChannelName, ".") {
			return duck.Destination{Ref: &duck.KReference{APIVersion: channelAPIVersion, Kind: "Channel", Name: a.ChannelName, Namespace: f.Namespace}}, nil
		}
		if m := channelServiceDNS.FindStringSubmatch(a.ChannelName); m != nil && m[3] == f.Namespace {
			return duck.Destination{Ref: &duck.KReference{APIVersion: channelAPIVersion, Kind: "Channel", Name: m[1], Namespace: f.Namespace}}, nil
		}
		return hostDestination(ap.Child("channelName"), a.ChannelName)
	case a.DNSName != "":
		return hostDestination(ap.Child("dnsName"), a.DNSName)
	}
	return duck.Destination{}, field.Required(ap, "set one of routeName, channelName and dnsName")
}

func hostDestination(p *field.Path, host string) (duck.Destination, error) {
	if msgs := validation.IsDNS1123Subdomain(host); len(msgs) > 0 {
		return duck.Destination{}, field.Invalid(p, host, strings.Join(msgs, "; "))
	}
	return duck.Destination{URI: "http://" + host}, nil
}

// feedConversion collects what a conversion needs and the errors it finds.
type feedConversion struct {
	f      *feedsv1alpha1.Feed
	tp     *field.Path
	params map[string]json.RawMessage
	errs   field.ErrorList
}

func newFeedConversion(f *feedsv1alpha1.Feed) *feedConversion {
	c := &feedConversion{f: f, tp: field.NewPath("spec", "trigger")}
	params, err := feedsv1alpha1.ParametersObject(f.Spec.Trigger.Parameters)
	if err != nil {
		c.errs = append(c.errs, field.Invalid(c.tp.Child("parameters"), "<JSON>", "must be a JSON object"))
	}
	c.params = params
	return c
}

// stringParam returns parameter name, which must be a string, and forgets it.
func (c *feedConversion) stringParam(name string) string {
	raw, ok := c.params[name]
	if !ok {
		return ""
	}
	delete(c.params, name)
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		c.errs = append(c.errs, field.Invalid(c.tp.Child("parameters").Key(name), string(raw), "must be a string"))
	}
	return s
}

// unknownParams reports every parameter left over: it has no counterpart in kind.
func (c *feedConversion) unknownParams(kind string) {
	for _, name := range sortedKeys(c.params) {
		c.errs = append(c.errs, field.Forbidden(c.tp.Child("parameters").Key(name), "has no counterpart in "+kind))
	}
}

// noParametersFrom reports parametersFrom, whose Secret contents can't be read by a conversion.
func (c *feedConversion) noParametersFrom(kind string) {
	if len(c.f.Spec.Trigger.ParametersFrom) > 0 {
		c.errs = append(c.errs, field.Forbidden(c.tp.Child("parametersFrom"), "parameters read from Secrets have no counterpart in "+kind))
	}
}

// meta returns the v1 object's metadata: a deep copy of the feed's.
func (c *feedConversion) meta() metav1.ObjectMeta { return *c.f.ObjectMeta.DeepCopy() }

// sink converts the action.
func (c *feedConversion) sink() duck.Destination {
	d, err := FeedSink(c.f)
	if err != nil {
		c.errs = append(c.errs, err.(*field.Error))
	}
	return d
}

// result returns the aggregated errors, or the converted object's own validation errors
// (its paths are the v1 kind's) under the kind's name.
func (c *feedConversion) result(kind string, v1 interface{ Validate() field.ErrorList }) error {
	if len(c.errs) > 0 {
		return c.errs.ToAggregate()
	}
	if errs := v1.Validate(); len(errs) > 0 {
		return fmt.Errorf("the %s converted from the feed is invalid: %w", kind, errs.ToAggregate())
	}
	return nil
}

// legacyGitHubEvents maps the 2018 GitHub event type names to webhook event names.
var legacyGitHubEvents = map[string]string{"pullrequest": "pull_request"}

// FeedToGitHubSource converts a github feed (2018's GitHub event source):
//   - spec.trigger.eventType (pullrequest, dev.knative.github.pullrequest, or a webhook event
//     name with or without the dev.knative.github. prefix) becomes spec.eventTypes;
//   - spec.trigger.resource "owner/repo" (or "org") becomes spec.ownerAndRepository;
//   - the Secret named by spec.trigger.parametersFrom[0].secretKeyRef.name, or by the
//     parameter secretName, gives spec.accessToken (key accessToken) and spec.secretToken (key
//     secretToken). The 2018 source kept both tokens as one JSON object under a single key
//     (parameters.secretKey, parametersFrom's key); GitHubSource reads one token per key, so
//     the Secret needs the keys accessToken and secretToken: until it has them the source
//     reports SecretsProvided False;
//   - spec.serviceAccountName is kept; the action becomes spec.sink (see FeedSink);
//   - status.feedContext keeps status.webhookIDKey (see SetFeedStatus).
//
// Other parameters, and more than one parametersFrom, are errors naming the field.
func FeedToGitHubSource(f *feedsv1alpha1.Feed) (*GitHubSource, error) {
	c := newFeedConversion(f)
	et, etPath := feedEventType(f)
	name := strings.TrimPrefix(strings.TrimPrefix(et, "dev.knative.github."), "dev.knative.source.github.")
	if n, ok := legacyGitHubEvents[name]; ok {
		name = n
	}
	if !IsGitHubEventType(name) {
		c.errs = append(c.errs, field.Invalid(etPath, et, "is not a GitHub event type GitHubSource knows (such as pullrequest or dev.knative.github.push)"))
	}
	repo := f.Spec.Trigger.Resource
	if repo == "" {
		c.errs = append(c.errs, field.Required(c.tp.Child("resource"), `"owner/repository" or "organization"`))
	} else if msg := ValidateOwnerAndRepository(repo); msg != "" {
		c.errs = append(c.errs, field.Invalid(c.tp.Child("resource"), repo, msg))
	}
	secret := c.stringParam("secretName")
	c.stringParam("secretKey") // the key of the 2018 JSON blob: see the doc comment
	from := f.Spec.Trigger.ParametersFrom
	if len(from) > 1 {
		c.errs = append(c.errs, field.Forbidden(c.tp.Child("parametersFrom").Index(1), "a GitHubSource reads its tokens from one Secret"))
	}
	if len(from) > 0 && from[0].SecretKeyRef != nil {
		n := from[0].SecretKeyRef.Name
		if secret != "" && secret != n {
			c.errs = append(c.errs, field.Invalid(c.tp.Child("parameters").Key("secretName"), secret,
				fmt.Sprintf("names another Secret than parametersFrom[0] (%q)", n)))
		}
		secret = n
	}
	if secret == "" {
		c.errs = append(c.errs, field.Required(c.tp.Child("parametersFrom"), "the Secret holding the GitHub tokens"))
	}
	c.unknownParams("GitHubSource")
	src := &GitHubSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: Group + "/" + GitHubSourceVersion, Kind: "GitHubSource"},
		ObjectMeta: c.meta(),
		Spec: GitHubSourceSpec{
			ServiceAccountName: f.Spec.ServiceAccountName,
			OwnerAndRepository: repo,
			EventTypes:         []string{name},
			AccessToken:        secretValue(secret, "accessToken"),
			SecretToken:        secretValue(secret, "secretToken"),
			SourceSpec:         duck.SourceSpec{Sink: c.sink()},
		},
	}
	restoreStatus(f, &src.Status)
	src.SetDefaults()
	if err := c.result("GitHubSource", src); err != nil {
		return nil, err
	}
	return src, nil
}

func secretValue(name, key string) SecretValueFromSource {
	return SecretValueFromSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}
}

// FeedToApiServerSource converts a k8sevents feed (2018's Kubernetes event source, which sent
// each core/v1 Event of a namespace):
//   - the source watches v1 Events in Resource mode (the whole Event is the data, as in 2018;
//     the CloudEvents type becomes dev.knative.apiserver.resource.add/update/delete instead of
//     dev.knative.k8s.event, and event subtypes such as dev.knative.k8s.event.create are not
//     filtered);
//   - the parameter namespace, when it is not the feed's own, becomes a namespaceSelector on
//     the kubernetes.io/metadata.name label;
//   - spec.trigger.resource (k8sevents/...) is informational and dropped;
//   - spec.serviceAccountName is kept; the action becomes spec.sink (see FeedSink).
//
// Other parameters and parametersFrom are errors naming the field.
func FeedToApiServerSource(f *feedsv1alpha1.Feed) (*ApiServerSource, error) {
	c := newFeedConversion(f)
	et, etPath := feedEventType(f)
	if et != "dev.knative.k8s.event" && !strings.HasPrefix(et, "dev.knative.k8s.event.") && et != "receiveevent" {
		c.errs = append(c.errs, field.Invalid(etPath, et, "is not a Kubernetes event type (dev.knative.k8s.event)"))
	}
	var nsSelector *metav1.LabelSelector
	if ns := c.stringParam("namespace"); ns != "" && ns != f.Namespace {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			c.errs = append(c.errs, field.Invalid(c.tp.Child("parameters").Key("namespace"), ns, strings.Join(msgs, "; ")))
		}
		nsSelector = &metav1.LabelSelector{MatchLabels: map[string]string{KubernetesNamespaceNameLabel: ns}}
	}
	c.unknownParams("ApiServerSource")
	c.noParametersFrom("ApiServerSource")
	src := &ApiServerSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: Group + "/" + VersionV1, Kind: "ApiServerSource"},
		ObjectMeta: c.meta(),
		Spec: ApiServerSourceSpec{
			SourceSpec:         duck.SourceSpec{Sink: c.sink()},
			Resources:          []APIVersionKindSelector{{APIVersion: "v1", Kind: "Event"}},
			EventMode:          ResourceMode,
			ServiceAccountName: f.Spec.ServiceAccountName,
			NamespaceSelector:  nsSelector,
		},
	}
	restoreStatus(f, &src.Status)
	src.SetDefaults()
	if err := c.result("ApiServerSource", src); err != nil {
		return nil, err
	}
	return src, nil
}

// FeedToCloudPubSubSource converts a gcppubsub feed (2018's Google Cloud Pub/Sub source):
//   - the parameters projectID and topic, or else spec.trigger.resource "project/topic" (or
//     "projects/P/topics/T"), become spec.project and spec.topic; when both are given they
//     must agree;
//   - the event type must be receive or google.pubsub.topic.publish;
//   - spec.serviceAccountName (the 2018 adapter's ServiceAccount) is dropped: in
//     CloudPubSubSource that field binds a Google service account (workload identity), so the
//     converted source reads its credentials from the default Secret google-cloud-key;
//   - the action becomes spec.sink (see FeedSink); status.feedContext keeps the project, topic
//     and subscription IDs (see SetFeedStatus).
//
// Other parameters and parametersFrom are errors naming the field.
func FeedToCloudPubSubSource(f *feedsv1alpha1.Feed) (*CloudPubSubSource, error) {
	c := newFeedConversion(f)
	et, etPath := feedEventType(f)
	if et != "receive" && et != "google.pubsub.topic.publish" {
		c.errs = append(c.errs, field.Invalid(etPath, et, "is not a Pub/Sub event type (receive or google.pubsub.topic.publish)"))
	}
	project, topic := c.stringParam("projectID"), c.stringParam("topic")
	if r := f.Spec.Trigger.Resource; r != "" {
		rp, rt, ok := parsePubSubResource(r)
		switch {
		case !ok:
			c.errs = append(c.errs, field.Invalid(c.tp.Child("resource"), r, `must be "project/topic" or "projects/PROJECT/topics/TOPIC"`))
		case project != "" && project != rp || topic != "" && topic != rt:
			c.errs = append(c.errs, field.Invalid(c.tp.Child("resource"), r, "names another project or topic than the parameters projectID and topic"))
		default:
			project, topic = rp, rt
		}
	}
	if topic == "" {
		c.errs = append(c.errs, field.Required(c.tp.Child("resource"), `"project/topic", or the parameter topic`))
	}
	c.unknownParams("CloudPubSubSource")
	c.noParametersFrom("CloudPubSubSource")
	src := &CloudPubSubSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: EventsGroup + "/" + CloudPubSubSourceVersion, Kind: "CloudPubSubSource"},
		ObjectMeta: c.meta(),
		Spec: CloudPubSubSourceSpec{
			PubSubSpec: PubSubSpec{SourceSpec: duck.SourceSpec{Sink: c.sink()}, Project: project},
			Topic:      topic,
		},
	}
	restoreStatus(f, &src.Status)
	src.SetDefaults()
	if err := c.result("CloudPubSubSource", src); err != nil {
		return nil, err
	}
	return src, nil
}

// parsePubSubResource splits "project/topic" or "projects/P/topics/T".
func parsePubSubResource(r string) (project, topic string, ok bool) {
	parts := strings.Split(r, "/")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], true
	case len(parts) == 4 && parts[0] == "projects" && parts[2] == "topics" && parts[1] != "" && parts[3] != "":
		return parts[1], parts[3], true
	}
	return "", "", false
}

// sharedStatusKeys are the JSON fields of duck.SourceStatus; the rest of a source's status is
// kept in a feed's status.feedContext.
var sharedStatusKeys = map[string]bool{
	"observedGeneration": true, "conditions": true, "annotations": true, "sinkUri": true,
	"sinkCACerts": true, "sinkAudience": true, "ceAttributes": true,
}

// SetFeedStatus copies the status of v1, the source f runs as (from FeedToV1), onto f: the
// shared source status (conditions, sinkUri, ceAttributes, …) as it is, and the kind's own
// status fields (such as a GitHubSource's webhookIDKey) as status.feedContext, from which the
// conversions restore them.
func SetFeedStatus(f *feedsv1alpha1.Feed, v1 api.Object) error {
	u, err := api.ToUnstructured(v1)
	if err != nil {
		return err
	}
	status, _ := u.Object["status"].(map[string]any)
	shared, extra := map[string]any{}, map[string]any{}
	for k, v := range status {
		if sharedStatusKeys[k] {
			shared[k] = v
		} else {
			extra[k] = v
		}
	}
	var s duck.SourceStatus
	if err := remarshal(shared, &s); err != nil {
		return err
	}
	f.Status.SourceStatus = s
	f.Status.FeedContext = nil
	if len(extra) > 0 {
		data, err := json.Marshal(extra)
		if err != nil {
			return err
		}
		f.Status.FeedContext = data
	}
	return nil
}

// restoreStatus fills a v1 status from f's shared status and, where it is a JSON object, its
// feed context. Fields the status type lacks are ignored.
func restoreStatus(f *feedsv1alpha1.Feed, into any) {
	merged := map[string]any{}
	if len(f.Status.FeedContext) > 0 {
		_ = json.Unmarshal(f.Status.FeedContext, &merged) // not an object: nothing to restore
	}
	var shared map[string]any
	if err := remarshal(f.Status.SourceStatus, &shared); err == nil {
		for k, v := range shared {
			merged[k] = v
		}
	}
	_ = remarshal(merged, into) // the status types take any JSON object; unknown fields are dropped
}

func remarshal(in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
