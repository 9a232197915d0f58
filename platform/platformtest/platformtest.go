// Package platformtest runs a whole Eddy platform in a test: the end-to-end tests of the
// eventing, sources and serving packages share it.
package platformtest

import (
	"context"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
)

// Env is a running platform and a client of its store.
type Env struct {
	P      *platform.Platform
	Client *reconciler.Client
}

// Start runs the platform with cfg, whose empty DataDir, APIAddr, IngressAddr and
// ResyncPeriod become a temporary directory, free loopback ports and one second. The
// platform stops when the test ends.
func Start(t testing.TB, cfg platform.Config) *Env {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if cfg.IngressAddr == "" {
		cfg.IngressAddr = "127.0.0.1:0"
	}
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		p.Shutdown(context.Background())
	})
	return &Env{P: p, Client: reconciler.NewClient(p.Store, p.Registry)}
}

// Apply admits and creates every object of the YAML, as the API would; objects of
// namespaced kinds without a namespace go to "default".
func (e *Env) Apply(t testing.TB, yaml string) {
	t.Helper()
	objs, err := e.P.Registry.DecodeAll([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if k, err := e.P.Registry.ForObject(o); err == nil && k.Namespaced && o.GetNamespace() == "" {
			o.SetNamespace("default")
		}
		admitted, _, err := e.P.Registry.Admit(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Client.Create(context.Background(), admitted); err != nil {
			t.Fatal(err)
		}
	}
}

// Eventually polls cond every 20ms until it holds, and fails the test if it does not within
// timeout.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
