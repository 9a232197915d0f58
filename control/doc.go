// Package control is Eddy's control plane. Its sub-packages hold the resource store (store,
// with the embedded bbolt implementation in store/bolt and the conformance suite every
// implementation passes in store/storetest), the Kubernetes-style REST and watch API
// (apiserver), token authentication, and the reconciler framework (reconciler).
package control
