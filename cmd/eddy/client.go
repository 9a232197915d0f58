package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/apiserver"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// restConfig returns the client configuration: the server from --server / EDDY_SERVER, the
// token from EDDY_TOKEN or the default data directory's token file.
func (g *globals) restConfig() (*rest.Config, error) {
	tok := os.Getenv("EDDY_TOKEN")
	if tok == "" {
		path := filepath.Join(defaultDataDir(), apiserver.TokenFile)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no API token: set EDDY_TOKEN, or run this on the machine where `eddy up` runs (it writes %s): %w", path, err)
		}
		tok = strings.TrimSpace(string(data))
	}
	return &rest.Config{Host: g.server, BearerToken: tok, QPS: 200, Burst: 400, UserAgent: "eddy/" + version}, nil
}

// dynamicClient returns a client for any registered kind, speaking Kubernetes' REST dialect.
func (g *globals) dynamicClient() (dynamic.Interface, error) {
	cfg, err := g.restConfig()
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// resourceFor returns the client for a kind in version (the storage version when empty),
// scoped to namespace when the kind is namespaced ("" means every namespace).
func resourceFor(dc dynamic.Interface, k *api.Kind, version, namespace string) dynamic.ResourceInterface {
	if version == "" {
		version = k.StorageVersion().Name
	}
	gvr := schema.GroupVersionResource{Group: k.Group, Version: version, Resource: k.Plural}
	if k.Namespaced {
		return dc.Resource(gvr).Namespace(namespace)
	}
	return dc.Resource(gvr)
}

// friendly turns connection failures into an answer a newcomer can act on.
func friendly(server string, err error) error {
	if err == nil {
		return nil
	}
	var ue interface{ Timeout() bool }
	if strings.Contains(err.Error(), "connection refused") || errors.As(err, &ue) && ue.Timeout() {
		return fmt.Errorf("cannot reach the Eddy API at %s: is `eddy up` (or `make run`) running? (%w)", server, err)
	}
	return err
}
