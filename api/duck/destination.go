package duck

import (
	"bytes"
	"encoding/pem"
	"net/url"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Destination is where events are sent: a reference to an addressable object (any kind with
// status.address.url, or a core v1 Service), a URI, or both, in which case the URI is relative
// and resolved against the referent's URL (ref Service "test" with uri "/update" means
// http://test.<namespace>.svc/update).
type Destination struct {
	// Ref points to an addressable object.
	Ref *KReference `json:"ref,omitempty"`
	// URI is an absolute URL (with a scheme and a host) when Ref is empty, else a relative
	// URI resolved against the referent's URL.
	URI string `json:"uri,omitempty"`
	// CACerts are PEM certificates of the authorities the destination's TLS certificate may
	// chain to, added to those of the referent.
	CACerts *string `json:"CACerts,omitempty"`
	// Audience is the OIDC audience of the destination.
	Audience *string `json:"audience,omitempty"`
}

// IsEmpty reports whether d is nil or names nothing.
func (d *Destination) IsEmpty() bool {
	return d == nil || d.Ref == nil && d.URI == "" && d.CACerts == nil && d.Audience == nil
}

// SetDefaults fills the ref's empty namespace with parentNamespace, as Knative does.
func (d *Destination) SetDefaults(parentNamespace string) {
	if d != nil && d.Ref != nil {
		d.Ref.SetDefaults(parentNamespace)
	}
}

// Validate checks the destination at path p, as Knative's ValidateDestination does: one of
// ref and uri is required; uri alone must be absolute with a host; with ref, uri must be
// relative. A nil or empty destination is "p: Required value", so callers that treat the
// destination as optional check IsEmpty first. parentNamespace is passed to KReference.Validate.
func (d *Destination) Validate(p *field.Path, parentNamespace string) field.ErrorList {
	if d == nil || d.Ref == nil && d.URI == "" {
		return field.ErrorList{field.Required(p, "set ref, uri, or ref with a relative uri")}
	}
	var errs field.ErrorList
	if d.URI != "" {
		u, err := url.Parse(d.URI)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("uri"), d.URI, "must be a URI: "+err.Error()))
		case d.Ref != nil && u.IsAbs():
			errs = append(errs, field.Invalid(p.Child("uri"), d.URI, "must be a relative URI when ref is set: it is resolved against the ref's URL"))
		case d.Ref == nil && (!u.IsAbs() || u.Host == ""):
			errs = append(errs, field.Invalid(p.Child("uri"), d.URI, "must be an absolute URL with a scheme and a host when ref is not set"))
		}
	}
	if d.Ref != nil {
		errs = append(errs, d.Ref.Validate(p.Child("ref"), parentNamespace)...)
	}
	if d.CACerts != nil {
		errs = append(errs, ValidateCACerts(p.Child("CACerts"), *d.CACerts)...)
	}
	return errs
}

// ValidateCACerts checks that certs holds at least one PEM block and nothing else.
func ValidateCACerts(p *field.Path, certs string) field.ErrorList {
	rest := []byte(certs)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return field.ErrorList{field.Invalid(p, "<PEM data>", "must be PEM-encoded certificates")}
	}
	return nil
}

// ValidateURI checks that s, when set, is an absolute URL with a host: for status-like spec
// fields (a channel's spec.subscribers) that hold resolved URLs.
func ValidateURI(p *field.Path, s string) field.ErrorList {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return field.ErrorList{field.Invalid(p, s, "must be a URI: "+err.Error())}
	}
	if !u.IsAbs() || u.Host == "" {
		return field.ErrorList{field.Invalid(p, s, "must be an absolute URL with a scheme and a host")}
	}
	return nil
}
