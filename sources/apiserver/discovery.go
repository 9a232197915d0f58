package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resolved is a kind to watch as the API server serves it.
type resolved struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// discover fetches the discovery document of gv (/api/v1 or /apis/GROUP/VERSION) from the
// server at base with hc.
func discover(ctx context.Context, hc *http.Client, base *url.URL, gv schema.GroupVersion) ([]byte, error) {
	u := *base
	if gv.Group == "" {
		u.Path = path.Join("/", base.Path, "api", gv.Version)
	} else {
		u.Path = path.Join("/", base.Path, "apis", gv.Group, gv.Version)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", gv, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", gv, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("the API server does not serve %s", gv)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("discovering %s: %s", gv, resp.Status)
	}
	return body, nil
}

// findKind reads a discovery document (an APIResourceList) and returns the resource serving
// kind in it: its plural name and scope. The resource must allow list and watch.
func findKind(doc []byte, gv schema.GroupVersion, kind string) (resolved, error) {
	var list metav1.APIResourceList
	if err := json.Unmarshal(doc, &list); err != nil {
		return resolved{}, fmt.Errorf("discovery document of %s: %w", gv, err)
	}
	for _, r := range list.APIResources {
		if r.Kind != kind || r.Name == "" || strings.Contains(r.Name, "/") {
			continue // subresources such as pods/status share their parent's kind
		}
		if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "watch") {
			return resolved{}, fmt.Errorf("%s %s (%s) cannot be listed and watched", gv, kind, r.Name)
		}
		return resolved{gvr: gv.WithResource(r.Name), kind: kind, namespaced: r.Namespaced}, nil
	}
	return resolved{}, fmt.Errorf("the API server serves no kind %s in %s", kind, gv)
}
