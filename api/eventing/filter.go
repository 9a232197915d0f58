package eventing

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	cesqlparser "github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/eddyplatform/eddy/api/duck"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TriggerFilter is Knative's original trigger filter: an exact match on attributes.
type TriggerFilter struct {
	// Attributes maps attribute names (context attributes or extensions) to the values an
	// event must have, case-sensitively. Every key must be present on the event; an empty
	// value matches any value.
	Attributes TriggerFilterAttributes `json:"attributes,omitempty"`
}

// TriggerFilterAttributes maps attribute names to exact values; "" matches any value.
type TriggerFilterAttributes map[string]string

// SubscriptionsAPIFilter is a filter expression of the CloudEvents Subscriptions API. It has
// exactly one dialect; an empty expression passes every event.
type SubscriptionsAPIFilter struct {
	// All passes when every nested expression passes; it holds at least one.
	All []SubscriptionsAPIFilter `json:"all,omitempty"`
	// Any passes when at least one nested expression passes; it holds at least one.
	Any []SubscriptionsAPIFilter `json:"any,omitempty"`
	// Not passes when the nested expression does not.
	Not *SubscriptionsAPIFilter `json:"not,omitempty"`
	// Exact passes when the one attribute it names has exactly this value (case-sensitive).
	Exact map[string]string `json:"exact,omitempty"`
	// Prefix passes when the one attribute it names starts with this value.
	Prefix map[string]string `json:"prefix,omitempty"`
	// Suffix passes when the one attribute it names ends with this value.
	Suffix map[string]string `json:"suffix,omitempty"`
	// CESQL passes when this CloudEvents SQL expression is true for the event.
	CESQL string `json:"cesql,omitempty"`
}

// Dialects returns the names of the dialects the expression sets, in the order all, any, not,
// exact, prefix, suffix, cesql. A valid expression has at most one.
func (f *SubscriptionsAPIFilter) Dialects() []string {
	var out []string
	if f.All != nil {
		out = append(out, "all")
	}
	if f.Any != nil {
		out = append(out, "any")
	}
	if f.Not != nil {
		out = append(out, "not")
	}
	if f.Exact != nil {
		out = append(out, "exact")
	}
	if f.Prefix != nil {
		out = append(out, "prefix")
	}
	if f.Suffix != nil {
		out = append(out, "suffix")
	}
	if f.CESQL != "" {
		out = append(out, "cesql")
	}
	return out
}

// ValidateFilters checks a list of filter expressions at path p (such as spec.filters).
func ValidateFilters(p *field.Path, filters []SubscriptionsAPIFilter) field.ErrorList {
	var errs field.ErrorList
	for i := range filters {
		errs = append(errs, ValidateFilter(p.Index(i), &filters[i])...)
	}
	return errs
}

// ValidateFilter checks one filter expression at path p, recursively.
func ValidateFilter(p *field.Path, f *SubscriptionsAPIFilter) field.ErrorList {
	var errs field.ErrorList
	dialects := f.Dialects()
	for _, d := range dialects[min(1, len(dialects)):] {
		errs = append(errs, field.Forbidden(p.Child(d),
			fmt.Sprintf("a filter expression has exactly one dialect, and this one already has %q: nest expressions with all or any", dialects[0])))
	}
	errs = append(errs, validateOneAttribute(p.Child("exact"), f.Exact)...)
	errs = append(errs, validateOneAttribute(p.Child("prefix"), f.Prefix)...)
	errs = append(errs, validateOneAttribute(p.Child("suffix"), f.Suffix)...)
	for _, nested := range []struct {
		name string
		list []SubscriptionsAPIFilter
	}{{"all", f.All}, {"any", f.Any}} {
		if nested.list != nil && len(nested.list) == 0 {
			errs = append(errs, field.Required(p.Child(nested.name), "must hold at least one filter expression"))
		}
		errs = append(errs, ValidateFilters(p.Child(nested.name), nested.list)...)
	}
	if f.Not != nil {
		errs = append(errs, ValidateFilter(p.Child("not"), f.Not)...)
	}
	if f.CESQL != "" {
		if err := ValidateCESQL(f.CESQL); err != nil {
			errs = append(errs, field.Invalid(p.Child("cesql"), f.CESQL, "must be a CloudEvents SQL expression: "+err.Error()))
		}
	}
	return errs
}

// validateOneAttribute checks an exact, prefix or suffix dialect: one attribute, a valid name,
// a non-empty value.
func validateOneAttribute(p *field.Path, m map[string]string) field.ErrorList {
	if m == nil {
		return nil
	}
	switch len(m) {
	case 0:
		return field.ErrorList{field.Required(p, "must name exactly one attribute and its value")}
	case 1:
	default:
		return field.ErrorList{field.TooMany(p, len(m), 1)}
	}
	var errs field.ErrorList
	for name, value := range m {
		if !duck.IsAttributeName(name) {
			errs = append(errs, field.Invalid(p.Key(name), name, duck.AttributeNameMessage))
		}
		if value == "" {
			errs = append(errs, field.Required(p.Key(name), "the value cannot be empty"))
		}
	}
	return errs
}

// ValidateCESQL parses a CloudEvents SQL expression and returns the parser's error, if any.
// The sdk-go parser panics on some incomplete expressions (such as "type = "); such a panic is
// returned as a syntax error, so callers that parse only validated expressions are safe.
func ValidateCESQL(expression string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("syntax error: the expression is incomplete or malformed")
		}
	}()
	if _, err := cesqlparser.Parse(expression); err != nil {
		return errors.New(strings.TrimRight(err.Error(), ": "))
	}
	return nil
}

// validateAttributes checks the keys of spec.filter.attributes.
func validateAttributes(p *field.Path, attrs TriggerFilterAttributes) field.ErrorList {
	var errs field.ErrorList
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !duck.IsAttributeName(name) {
			errs = append(errs, field.Invalid(p.Key(name), name, duck.AttributeNameMessage))
		}
	}
	return errs
}
