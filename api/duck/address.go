package duck

import "strings"

// Addressable is one address at which a resource accepts events.
type Addressable struct {
	// Name of the address, such as "http" or "https".
	Name *string `json:"name,omitempty"`
	// URL events are sent to.
	URL string `json:"url,omitempty"`
	// CACerts are the PEM certificates of the authorities the address's TLS certificate
	// chains to.
	CACerts *string `json:"CACerts,omitempty"`
	// Audience is the OIDC audience of the address.
	Audience *string `json:"audience,omitempty"`
}

// AddressStatus is the Addressable part of a status: status.address.url is where the resource
// accepts events. Knative clients that find status.addresses ignore status.address.
type AddressStatus struct {
	// Address is the resource's main address.
	Address *Addressable `json:"address,omitempty"`
	// Addresses lists the resource's addresses, one per protocol (HTTP, HTTPS).
	Addresses []Addressable `json:"addresses,omitempty"`
}

// URL returns the URL a sender should use: status.address.url, else the first of
// status.addresses, else "".
func (s *AddressStatus) URL() string {
	if s.Address != nil && s.Address.URL != "" {
		return s.Address.URL
	}
	for _, a := range s.Addresses {
		if a.URL != "" {
			return a.URL
		}
	}
	return ""
}

// SetURL makes url the resource's one address, named by its scheme ("http"), or clears the
// addresses when url is empty.
func (s *AddressStatus) SetURL(url string) {
	if url == "" {
		s.Address, s.Addresses = nil, nil
		return
	}
	name := "http"
	if strings.HasPrefix(strings.ToLower(url), "https://") {
		name = "https"
	}
	s.Address = &Addressable{Name: &name, URL: url}
	s.Addresses = []Addressable{*s.Address}
}
