package feedsv1alpha1

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SetDefaults stores the parameters and the feed context in a canonical JSON form.
func (f *Feed) SetDefaults() {
	f.Spec.Trigger.Parameters = canonicalJSON(f.Spec.Trigger.Parameters)
	f.Status.FeedContext = canonicalJSON(f.Status.FeedContext)
}

// Validate checks the trigger (exactly one of eventType and clusterEventType, each a qualified
// name as in 2018; parameters a JSON object; each parametersFrom a Secret name and key), the
// action (exactly one of routeName, channelName and dnsName, each a DNS name) and the service
// account. Whether the feed can be run (its event source known to Eddy) is decided when it is
// converted (see package sources), not here.
func (f *Feed) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	tp, ap := sp.Child("trigger"), sp.Child("action")
	var errs field.ErrorList
	t := f.Spec.Trigger
	switch {
	case t.EventType != "" && t.ClusterEventType != "":
		errs = append(errs, field.Invalid(tp.Child("clusterEventType"), t.ClusterEventType, "set eventType or clusterEventType, not both"))
	case t.EventType != "":
		errs = append(errs, qualifiedName(tp.Child("eventType"), t.EventType)...)
	case t.ClusterEventType != "":
		errs = append(errs, qualifiedName(tp.Child("clusterEventType"), t.ClusterEventType)...)
	default:
		errs = append(errs, field.Required(tp.Child("eventType"), "set eventType or clusterEventType"))
	}
	errs = append(errs, validateObject(tp.Child("parameters"), t.Parameters)...)
	for i, pf := range t.ParametersFrom {
		p := tp.Child("parametersFrom").Index(i).Child("secretKeyRef")
		if pf.SecretKeyRef == nil {
			errs = append(errs, field.Required(p, "a Secret name and key"))
			continue
		}
		if pf.SecretKeyRef.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, dnsSubdomain(p.Child("name"), pf.SecretKeyRef.Name)...)
		}
		if pf.SecretKeyRef.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		} else {
			for _, msg := range validation.IsConfigMapKey(pf.SecretKeyRef.Key) {
				errs = append(errs, field.Invalid(p.Child("key"), pf.SecretKeyRef.Key, msg))
			}
		}
	}
	a := f.Spec.Action
	set := 0
	for _, target := range []struct{ name, value string }{{"routeName", a.RouteName}, {"channelName", a.ChannelName}, {"dnsName", a.DNSName}} {
		if target.value == "" {
			continue
		}
		if set++; set > 1 {
			errs = append(errs, field.Invalid(ap.Child(target.name), target.value, "set exactly one of routeName, channelName and dnsName"))
			continue
		}
		errs = append(errs, dnsSubdomain(ap.Child(target.name), target.value)...)
	}
	if set == 0 {
		errs = append(errs, field.Required(ap, "set one of routeName, channelName and dnsName"))
	}
	if f.Spec.ServiceAccountName != "" {
		errs = append(errs, dnsSubdomain(sp.Child("serviceAccountName"), f.Spec.ServiceAccountName)...)
	}
	return append(errs, validateJSON(field.NewPath("status", "feedContext"), f.Status.FeedContext)...)
}

// validate checks an event source's parameters.
func (s *EventSourceSpec) validate() field.ErrorList {
	return validateObject(field.NewPath("spec", "parameters"), s.Parameters)
}

// setDefaults stores the parameters in a canonical JSON form.
func (s *EventSourceSpec) setDefaults() { s.Parameters = canonicalJSON(s.Parameters) }

// validate checks that an event type names its event source, and its schemas.
func (s *EventTypeSpec) validate() field.ErrorList {
	sp := field.NewPath("spec")
	errs := validateJSON(sp.Child("subscribeSchema"), s.SubscribeSchema)
	errs = append(errs, validateJSON(sp.Child("eventSchema"), s.EventSchema)...)
	if s.EventSource == "" {
		return append(errs, field.Required(sp.Child("eventSource"), "the name of the event source that produces the type"))
	}
	return append(errs, dnsSubdomain(sp.Child("eventSource"), s.EventSource)...)
}

// setDefaults stores the schemas in a canonical JSON form.
func (s *EventTypeSpec) setDefaults() {
	s.SubscribeSchema = canonicalJSON(s.SubscribeSchema)
	s.EventSchema = canonicalJSON(s.EventSchema)
}

// SetDefaults stores the parameters in a canonical JSON form.
func (s *EventSource) SetDefaults() { s.Spec.setDefaults() }

// Validate checks that the parameters are a JSON object.
func (s *EventSource) Validate() field.ErrorList { return s.Spec.validate() }

// SetDefaults stores the parameters in a canonical JSON form.
func (s *ClusterEventSource) SetDefaults() { s.Spec.setDefaults() }

// Validate checks that the parameters are a JSON object.
func (s *ClusterEventSource) Validate() field.ErrorList { return s.Spec.validate() }

// SetDefaults stores the schemas in a canonical JSON form.
func (t *EventType) SetDefaults() { t.Spec.setDefaults() }

// Validate checks that spec.eventSource names an event source.
func (t *EventType) Validate() field.ErrorList { return t.Spec.validate() }

// SetDefaults stores the schemas in a canonical JSON form.
func (t *ClusterEventType) SetDefaults() { t.Spec.setDefaults() }

// Validate checks that spec.eventSource names an event source.
func (t *ClusterEventType) Validate() field.ErrorList { return t.Spec.validate() }

func qualifiedName(p *field.Path, s string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(s) {
		errs = append(errs, field.Invalid(p, s, msg))
	}
	return errs
}

func dnsSubdomain(p *field.Path, s string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(s) {
		errs = append(errs, field.Invalid(p, s, msg))
	}
	return errs
}

// validateObject checks that raw JSON, when set, is an object the store can keep.
func validateObject(p *field.Path, raw []byte) field.ErrorList {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return nil
	}
	if !strings.HasPrefix(s, "{") {
		return field.ErrorList{field.Invalid(p, shorten(s), "must be a JSON object")}
	}
	return validateJSON(p, raw)
}

// validateJSON checks that every number in raw JSON fits a 64-bit float, as the store needs.
func validateJSON(p *field.Path, raw []byte) field.ErrorList {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return field.ErrorList{field.Invalid(p, shorten(string(raw)), "must be JSON")}
	}
	if n, ok := firstHugeNumber(v); ok {
		return field.ErrorList{field.Invalid(p, n, "numbers must fit a 64-bit float")}
	}
	return nil
}

func firstHugeNumber(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(string(x), 64); err != nil {
			return string(x), true
		}
	case map[string]any:
		for _, e := range x {
			if n, ok := firstHugeNumber(e); ok {
				return n, true
			}
		}
	case []any:
		for _, e := range x {
			if n, ok := firstHugeNumber(e); ok {
				return n, true
			}
		}
	}
	return "", false
}

func shorten(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}
