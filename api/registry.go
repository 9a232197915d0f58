package api

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Kind describes one resource kind: its names, its versions and the functions that default,
// validate and convert its objects. Register it once in a Registry.
type Kind struct {
	// Group is the API group, "" for the core group.
	Group string
	// Kind is the CamelCase kind name, such as "Service".
	Kind string
	// Plural is the lower-case resource name used in URLs, such as "services".
	Plural string
	// Singular is the lower-case singular name, such as "service".
	Singular string
	// ShortNames are accepted by the CLI, such as "ksvc".
	ShortNames []string
	// Namespaced is true for namespaced kinds, false for cluster-scoped ones.
	Namespaced bool
	// Versions are the served versions; exactly one has Storage set.
	Versions []Version
	// Default fills defaults into an object of the storage version; nil for none.
	Default func(Object)
	// Validate checks an object of the storage version; nil accepts everything. Paths in the
	// returned errors start at the object's root (spec.…, metadata.…).
	Validate func(Object) field.ErrorList
	// ValidateUpdate checks a change of an existing object (immutable fields); nil for none.
	ValidateUpdate func(old, updated Object) field.ErrorList
	// Columns are extra columns for `eddy get` tables.
	Columns []Column
	// Redact, when set, replaces secret values in an object (a copy about to be printed as
	// YAML, JSON or a description) with a placeholder that gives only their size. Table
	// columns never print values, so they need no redaction.
	Redact func(*unstructured.Unstructured)
	// Legacy marks a kind kept for old manifests, such as the 2018 channels.knative.dev
	// Channel: a name it shares with kinds that are not Legacy resolves to those; qualify it
	// with the group ("channels.channels.knative.dev") to reach the legacy kind.
	Legacy bool
}

// Version is one served version of a Kind.
type Version struct {
	// Name is the version, such as "v1" or "v1alpha1".
	Name string
	// Storage marks the version objects are stored in.
	Storage bool
	// New returns an empty object of this version.
	New func() Object
	// Validate, when set, checks an object of this version before conversion, so that
	// errors name the fields the user wrote.
	Validate func(Object) field.ErrorList
	// ToStorage converts an object of this version into the storage version. Nil for the
	// storage version itself.
	ToStorage func(Object) (Object, error)
}

// Column is one extra column of a kind's table.
type Column struct {
	// Name is the column header, upper-case.
	Name string
	// Wide columns show only with -o wide.
	Wide bool
	// Value returns the cell for an object of the storage version.
	Value func(Object) string
}

// GroupKind returns the kind's group and kind.
func (k *Kind) GroupKind() schema.GroupKind { return schema.GroupKind{Group: k.Group, Kind: k.Kind} }

// Resource returns the kind's group and plural resource name, the store's key.
func (k *Kind) Resource() schema.GroupResource {
	return schema.GroupResource{Group: k.Group, Resource: k.Plural}
}

// StorageVersion returns the version objects are stored in.
func (k *Kind) StorageVersion() *Version {
	for i := range k.Versions {
		if k.Versions[i].Storage {
			return &k.Versions[i]
		}
	}
	return nil
}

// StorageGVK returns the group, storage version and kind.
func (k *Kind) StorageGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: k.Group, Version: k.StorageVersion().Name, Kind: k.Kind}
}

// Version returns the named version, or nil when it is not served.
func (k *Kind) Version(name string) *Version {
	for i := range k.Versions {
		if k.Versions[i].Name == name {
			return &k.Versions[i]
		}
	}
	return nil
}

// APIVersion returns "group/version", or "version" for the core group.
func APIVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// NewStorage returns an empty object of the storage version with apiVersion and kind set.
func (k *Kind) NewStorage() Object {
	obj := k.StorageVersion().New()
	obj.GetObjectKind().SetGroupVersionKind(k.StorageGVK())
	return obj
}

// Registry holds every kind Eddy serves. It is safe for concurrent reads once built.
type Registry struct {
	mu     sync.RWMutex
	kinds  []*Kind
	byGK   map[schema.GroupKind]*Kind
	byName map[string][]*Kind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{byGK: map[schema.GroupKind]*Kind{}, byName: map[string][]*Kind{}}
}

// Register adds kinds. It panics on a malformed descriptor or a duplicate: both are
// programming errors found by the first test that builds the registry.
func (r *Registry) Register(kinds ...*Kind) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range kinds {
		storage := 0
		for _, v := range k.Versions {
			if v.Storage {
				storage++
			} else if v.ToStorage == nil {
				panic(fmt.Sprintf("api: %s version %s has no ToStorage conversion", k.Kind, v.Name))
			}
		}
		if storage != 1 || k.Kind == "" || k.Plural == "" || k.Singular == "" {
			panic(fmt.Sprintf("api: malformed kind %+v", k))
		}
		if _, dup := r.byGK[k.GroupKind()]; dup {
			panic(fmt.Sprintf("api: kind %s registered twice", k.GroupKind()))
		}
		r.kinds = append(r.kinds, k)
		r.byGK[k.GroupKind()] = k
		names := append([]string{k.Kind, k.Plural, k.Singular}, k.ShortNames...)
		for _, n := range names {
			n = strings.ToLower(n)
			r.byName[n] = appendUnique(r.byName[n], k)
			r.byName[n+"."+k.Group] = appendUnique(r.byName[n+"."+k.Group], k)
		}
	}
	sort.Slice(r.kinds, func(i, j int) bool {
		if r.kinds[i].Group != r.kinds[j].Group {
			return r.kinds[i].Group < r.kinds[j].Group
		}
		return r.kinds[i].Kind < r.kinds[j].Kind
	})
}

func appendUnique(ks []*Kind, k *Kind) []*Kind {
	for _, x := range ks {
		if x == k {
			return ks
		}
	}
	return append(ks, k)
}

// Kinds returns every registered kind, sorted by group and kind.
func (r *Registry) Kinds() []*Kind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]*Kind(nil), r.kinds...)
}

// ForGroupKind returns the kind with this group and kind name.
func (r *Registry) ForGroupKind(gk schema.GroupKind) (*Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.byGK[gk]
	return k, ok
}

// ForGVK returns the kind and the version named by gvk, or a BadRequest error that says
// which part is unknown.
func (r *Registry) ForGVK(gvk schema.GroupVersionKind) (*Kind, *Version, error) {
	k, ok := r.ForGroupKind(gvk.GroupKind())
	if !ok {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("no kind %q is registered in group %q", gvk.Kind, gvk.Group))
	}
	v := k.Version(gvk.Version)
	if v == nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("kind %s has no version %q (served: %s)", k.GroupKind(), gvk.Version, strings.Join(k.versionNames(), ", ")))
	}
	return k, v, nil
}

func (k *Kind) versionNames() []string {
	var out []string
	for _, v := range k.Versions {
		out = append(out, v.Name)
	}
	return out
}

// ForResource returns the kind served under group and plural.
func (r *Registry) ForResource(gr schema.GroupResource) (*Kind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.kinds {
		if k.Group == gr.Group && k.Plural == gr.Resource {
			return k, true
		}
	}
	return nil, false
}

// Resolve finds a kind by any of the names a user types: kind, singular, plural or short
// name, optionally qualified by group ("services.serving.knative.dev"), case-insensitively.
// An unqualified name that several groups share is ambiguous unless one of them is the core
// group or exactly one kind claims it as its kind name. A name shared with Legacy kinds
// resolves to the one kind that is not Legacy.
func (r *Registry) Resolve(name string) (*Kind, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ks := r.byName[strings.ToLower(name)]
	switch len(ks) {
	case 0:
		return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
	case 1:
		return ks[0], nil
	}
	for _, k := range ks {
		if k.Group == "" {
			return k, nil
		}
	}
	var current []*Kind
	for _, k := range ks {
		if !k.Legacy {
			current = append(current, k)
		}
	}
	if len(current) == 1 {
		return current[0], nil
	}
	var groups []string
	for _, k := range ks {
		groups = append(groups, k.Plural+"."+k.Group)
	}
	sort.Strings(groups)
	return nil, fmt.Errorf("resource type %q is ambiguous: use one of %s", name, strings.Join(groups, ", "))
}

// ForObject returns the kind of obj: by its apiVersion and kind when set, else by its Go type
// (the type the storage version's New returns).
func (r *Registry) ForObject(obj Object) (*Kind, error) {
	if gvk := GVK(obj); gvk.Kind != "" {
		k, _, err := r.ForGVK(gvk)
		return k, err
	}
	t := reflect.TypeOf(obj)
	for _, k := range r.Kinds() {
		if reflect.TypeOf(k.StorageVersion().New()) == t {
			return k, nil
		}
	}
	return nil, fmt.Errorf("api: no kind is registered for Go type %v", t)
}
