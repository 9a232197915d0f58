// Package kinds assembles the registry of every kind Eddy serves. Each API group's package
// contributes its kinds; this package is the one list of them.
package kinds

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/core"
)

// NewRegistry returns a registry holding every kind Eddy serves.
func NewRegistry() *api.Registry {
	r := api.NewRegistry()
	core.Register(r)
	return r
}
