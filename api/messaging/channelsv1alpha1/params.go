package channelsv1alpha1

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/eddyplatform/eddy/api/messaging"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Parameter is an argument a Bus asks channels or subscriptions to pass.
type Parameter struct {
	// Name of the parameter.
	Name string `json:"name"`
	// Description tells users what the parameter does.
	Description string `json:"description"`
	// Default is used when no argument is given; without one the argument is required.
	Default *string `json:"default,omitempty"`
}

// Argument is a value for a Bus parameter.
type Argument struct {
	// Name of the parameter.
	Name string `json:"name"`
	// Value given to it.
	Value string `json:"value"`
}

// validateParameters checks parameter names (config-map keys, unique) at path p.
func validateParameters(p *field.Path, params *[]Parameter) field.ErrorList {
	if params == nil {
		return nil
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, prm := range *params {
		np := p.Index(i).Child("name")
		switch {
		case prm.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[prm.Name]:
			errs = append(errs, field.Duplicate(np, prm.Name))
		default:
			for _, msg := range validation.IsConfigMapKey(prm.Name) {
				errs = append(errs, field.Invalid(np, prm.Name, msg))
			}
		}
		seen[prm.Name] = true
	}
	return errs
}

// validateArguments checks argument names (config-map keys, unique) at path p.
func validateArguments(p *field.Path, args *[]Argument) field.ErrorList {
	if args == nil {
		return nil
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, a := range *args {
		np := p.Index(i).Child("name")
		switch {
		case a.Name == "":
			errs = append(errs, field.Required(np, ""))
		case seen[a.Name]:
			errs = append(errs, field.Duplicate(np, a.Name))
		default:
			for _, msg := range validation.IsConfigMapKey(a.Name) {
				errs = append(errs, field.Invalid(np, a.Name, msg))
			}
		}
		seen[a.Name] = true
	}
	return errs
}

// ResolveArguments matches arguments to a bus's parameters, as the 2018 buses did: every
// parameter takes its argument's value, else its default; a parameter with neither, or an
// argument that no parameter declares, is an error.
func ResolveArguments(params *[]Parameter, args *[]Argument) (map[string]string, error) {
	out := map[string]string{}
	given := map[string]string{}
	if args != nil {
		for _, a := range *args {
			given[a.Name] = a.Value
		}
	}
	declared := map[string]bool{}
	var missing []string
	if params != nil {
		for _, p := range *params {
			declared[p.Name] = true
			switch v, ok := given[p.Name]; {
			case ok:
				out[p.Name] = v
			case p.Default != nil:
				out[p.Name] = *p.Default
			default:
				missing = append(missing, p.Name)
			}
		}
	}
	var unknown []string
	for name := range given {
		if !declared[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	switch {
	case len(missing) > 0:
		return nil, fmt.Errorf("missing arguments for the bus parameters %q", missing)
	case len(unknown) > 0:
		return nil, fmt.Errorf("arguments %q match no parameter of the bus", unknown)
	}
	return out, nil
}

// ArgumentsFromAnnotations reads the arguments a conversion put into
// messaging.ArgumentsAnnotation; none when the annotation is absent.
func ArgumentsFromAnnotations(annotations map[string]string) (*[]Argument, error) {
	v, ok := annotations[messaging.ArgumentsAnnotation]
	if !ok {
		return nil, nil
	}
	var args []Argument
	if err := json.Unmarshal([]byte(v), &args); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", messaging.ArgumentsAnnotation, err)
	}
	return &args, nil
}

// setArgumentsAnnotation writes args into annotations (allocating the map).
func setArgumentsAnnotation(annotations *map[string]string, args *[]Argument) {
	if args == nil {
		return
	}
	data, _ := json.Marshal(*args) // a slice of string pairs always encodes
	if *annotations == nil {
		*annotations = map[string]string{}
	}
	(*annotations)[messaging.ArgumentsAnnotation] = string(data)
}
