package channels

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/control/store"
	"github.com/eddyplatform/eddy/dispatcher"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Reasons a destination does not resolve, for conditions.
const (
	ReasonDestinationNotFound       = "DestinationNotFound"
	ReasonDestinationNotAddressable = "DestinationNotAddressable"
	ReasonDestinationInvalid        = "DestinationInvalid"
)

// ResolveError says why a destination did not resolve; Reason is a condition reason.
type ResolveError struct {
	Reason string
	Err    error
}

func (e *ResolveError) Error() string { return e.Err.Error() }
func (e *ResolveError) Unwrap() error { return e.Err }

// reasonOf returns the condition reason for an error from Destinations.URI.
func reasonOf(err error) string {
	var re *ResolveError
	if errors.As(err, &re) {
		return re.Reason
	}
	return "ResolveFailed"
}

// Destinations resolves Knative Destinations into URLs: a uri as it is; a ref to any kind with
// status.address.url (Channel, Broker, Sequence, Parallel, a serving Service, …) as that URL,
// with a relative uri resolved against it.
type Destinations struct {
	Store    store.Store
	Registry *api.Registry
}

// URI resolves d for an object in namespace. A nil or empty destination resolves to nil.
func (r *Destinations) URI(ctx context.Context, namespace string, d *duck.Destination) (*url.URL, error) {
	if d.IsEmpty() {
		return nil, nil
	}
	if d.Ref == nil {
		u, err := url.Parse(d.URI)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, &ResolveError{ReasonDestinationInvalid, fmt.Errorf("uri %q is not an absolute URL", d.URI)}
		}
		return u, nil
	}
	ref := d.Ref
	ns := ref.Namespace
	if ns == "" {
		ns = namespace
	}
	k, ok := r.Registry.ForGroupKind(ref.GroupVersionKind().GroupKind())
	if !ok {
		return nil, &ResolveError{ReasonDestinationNotFound, fmt.Errorf("%s %s/%s: kind %s is not served by this Eddy", ref.Kind, ns, ref.Name, ref.GroupVersionKind().GroupKind())}
	}
	obj, err := r.Store.Get(ctx, k.Resource(), ns, ref.Name)
	if apierrors.IsNotFound(err) {
		return nil, &ResolveError{ReasonDestinationNotFound, fmt.Errorf("%s %s/%s does not exist", ref.Kind, ns, ref.Name)}
	}
	if err != nil {
		return nil, err
	}
	addr, _, _ := unstructured.NestedString(obj.Object, "status", "address", "url")
	if addr == "" {
		return nil, &ResolveError{ReasonDestinationNotAddressable, fmt.Errorf("%s %s/%s has no status.address.url yet", ref.Kind, ns, ref.Name)}
	}
	base, err := url.Parse(addr)
	if err != nil {
		return nil, &ResolveError{ReasonDestinationNotAddressable, fmt.Errorf("%s %s/%s: status.address.url %q: %v", ref.Kind, ns, ref.Name, addr, err)}
	}
	if d.URI != "" {
		rel, err := url.Parse(d.URI)
		if err != nil {
			return nil, &ResolveError{ReasonDestinationInvalid, fmt.Errorf("uri %q: %v", d.URI, err)}
		}
		base = base.ResolveReference(rel)
	}
	return base, nil
}

// Policy converts a delivery spec into the dispatcher's policy.
func Policy(d *duck.DeliverySpec) (dispatcher.Policy, error) {
	var p dispatcher.Policy
	if d == nil {
		return p, nil
	}
	if d.Retry != nil {
		p.Retry = int(*d.Retry)
	}
	if d.BackoffPolicy != nil {
		p.BackoffPolicy = dispatcher.BackoffPolicy(*d.BackoffPolicy)
	}
	var err error
	if p.BackoffDelay, err = d.BackoffDelayDuration(); err != nil {
		return p, fmt.Errorf("backoffDelay: %w", err)
	}
	if p.Timeout, err = d.TimeoutDuration(); err != nil {
		return p, fmt.Errorf("timeout: %w", err)
	}
	if v, set, err := d.RetryAfterMaxDuration(); err != nil {
		return p, fmt.Errorf("retryAfterMax: %w", err)
	} else if set {
		p.RetryAfterMax = &v
	}
	return p, p.Validate()
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

func parseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	return url.Parse(s)
}
