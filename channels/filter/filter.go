// Package filter compiles a Trigger's filters into a predicate over CloudEvents: the original
// exact-match spec.filter.attributes, and the CloudEvents Subscriptions API expressions of
// spec.filters (exact, prefix, suffix, all, any, not and cesql), as Knative's broker filter
// evaluates them.
//
// Attribute names address context attributes (specversion, id, source, type, subject, time,
// dataschema, datacontenttype) and extensions alike; values compare as the strings the HTTP
// binding would carry. A missing attribute fails exact, prefix and suffix matches. A CESQL
// expression passes only when it evaluates to true; an evaluation error counts as false.
package filter

import (
	"fmt"
	"strings"
	"time"

	cesql "github.com/cloudevents/sdk-go/sql/v2"
	cesqlparser "github.com/cloudevents/sdk-go/sql/v2/parser"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/eddyplatform/eddy/api/eventing"
)

// Func reports whether an event passes. A nil Func passes everything.
type Func func(*event.Event) bool

// ForTrigger compiles a trigger's filters: spec.filters when set (all must pass), else
// spec.filter.attributes. It returns nil (everything passes) for an empty filter, and an error
// for an expression that does not compile (validation normally catches those first).
func ForTrigger(spec *eventing.TriggerSpec) (Func, error) {
	if len(spec.Filters) > 0 {
		return All(spec.Filters)
	}
	if spec.Filter == nil || len(spec.Filter.Attributes) == 0 {
		return nil, nil
	}
	return Attributes(spec.Filter.Attributes), nil
}

// Attributes returns the exact-match filter of spec.filter.attributes: every named attribute
// must be present, with the given value unless that value is "" (any value).
func Attributes(attrs map[string]string) Func {
	want := make(map[string]string, len(attrs))
	for k, v := range attrs {
		want[k] = v
	}
	return func(ev *event.Event) bool {
		for k, v := range want {
			got, ok := Attribute(ev, k)
			if !ok || (v != "" && got != v) {
				return false
			}
		}
		return true
	}
}

// All compiles a list of Subscriptions API expressions that must all pass.
func All(filters []eventing.SubscriptionsAPIFilter) (Func, error) {
	fs := make([]Func, 0, len(filters))
	for i := range filters {
		f, err := Compile(&filters[i])
		if err != nil {
			return nil, fmt.Errorf("filters[%d]: %w", i, err)
		}
		if f != nil {
			fs = append(fs, f)
		}
	}
	if len(fs) == 0 {
		return nil, nil
	}
	return func(ev *event.Event) bool {
		for _, f := range fs {
			if !f(ev) {
				return false
			}
		}
		return true
	}, nil
}

// Compile compiles one Subscriptions API expression. An empty expression passes everything
// (nil Func).
func Compile(f *eventing.SubscriptionsAPIFilter) (Func, error) {
	switch {
	case f.All != nil:
		return All(f.All)
	case f.Any != nil:
		fs := make([]Func, 0, len(f.Any))
		for i := range f.Any {
			c, err := Compile(&f.Any[i])
			if err != nil {
				return nil, fmt.Errorf("any[%d]: %w", i, err)
			}
			if c == nil {
				return nil, nil // one branch passes everything
			}
			fs = append(fs, c)
		}
		return func(ev *event.Event) bool {
			for _, c := range fs {
				if c(ev) {
					return true
				}
			}
			return false
		}, nil
	case f.Not != nil:
		c, err := Compile(f.Not)
		if err != nil {
			return nil, fmt.Errorf("not: %w", err)
		}
		if c == nil {
			return func(*event.Event) bool { return false }, nil
		}
		return func(ev *event.Event) bool { return !c(ev) }, nil
	case f.Exact != nil:
		return match(f.Exact, func(got, want string) bool { return got == want })
	case f.Prefix != nil:
		return match(f.Prefix, strings.HasPrefix)
	case f.Suffix != nil:
		return match(f.Suffix, strings.HasSuffix)
	case f.CESQL != "":
		return CESQL(f.CESQL)
	}
	return nil, nil
}

func match(m map[string]string, ok func(got, want string) bool) (Func, error) {
	if len(m) != 1 {
		return nil, fmt.Errorf("an exact, prefix or suffix filter names exactly one attribute, not %d", len(m))
	}
	var name, want string
	for name, want = range m {
	}
	return func(ev *event.Event) bool {
		got, found := Attribute(ev, name)
		return found && ok(got, want)
	}, nil
}

// CESQL compiles a CloudEvents SQL expression with the CloudEvents SDK's parser. (The parser
// panics on some malformed input, such as "type = "; that is reported as an error.)
func CESQL(expression string) (f Func, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cesql %q: does not parse (%v)", expression, r)
		}
	}()
	expr, err := cesqlparser.Parse(expression)
	if err != nil {
		return nil, fmt.Errorf("cesql %q: %w", expression, err)
	}
	return func(ev *event.Event) bool { return evaluate(expr, ev) }, nil
}

func evaluate(expr cesql.Expression, ev *event.Event) (pass bool) {
	defer func() {
		if recover() != nil {
			pass = false
		}
	}()
	v, err := expr.Evaluate(*ev)
	if err != nil {
		return false
	}
	b, ok := v.(bool)
	return ok && b
}

// Attribute returns the named context attribute or extension of ev as a string, and whether
// the event has it.
func Attribute(ev *event.Event, name string) (string, bool) {
	switch name {
	case "specversion":
		return ev.SpecVersion(), true
	case "id":
		return ev.ID(), true
	case "source":
		return ev.Source(), true
	case "type":
		return ev.Type(), true
	case "subject":
		return ev.Subject(), ev.Subject() != ""
	case "time":
		if t := ev.Time(); !t.IsZero() {
			return t.UTC().Format(time.RFC3339Nano), true
		}
		return "", false
	case "dataschema", "schemaurl":
		return ev.DataSchema(), ev.DataSchema() != ""
	case "datacontenttype":
		return ev.DataContentType(), ev.DataContentType() != ""
	}
	v, ok := ev.Extensions()[name]
	if !ok {
		return "", false
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v), true
	}
	return s, true
}
