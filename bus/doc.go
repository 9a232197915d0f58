// Package bus defines the event bus that carries CloudEvents between Eddy's ingress and its
// dispatcher; one sub-package per backend implements it.
package bus
