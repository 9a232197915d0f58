// Package kinds assembles the registry of every kind Eddy serves. Each API group's package
// contributes its kinds; this package is the one list of them.
package kinds

import (
	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/core"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/flows"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/api/messaging/channelsv1alpha1"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/api/sources"
)

// NewRegistry returns a registry holding every kind Eddy serves.
func NewRegistry() *api.Registry {
	r := api.NewRegistry()
	core.Register(r)
	build.Register(r)
	messaging.Register(r)
	channelsv1alpha1.Register(r)
	eventing.Register(r)
	flows.Register(r)
	serving.Register(r)
	sources.Register(r)
	return r
}
