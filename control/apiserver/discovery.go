package apiserver

import (
	"sort"

	"github.com/eddyplatform/eddy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var groupResourceNone = schema.GroupResource{}

var allVerbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}

func (s *Server) coreVersions() *metav1.APIVersions {
	return &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}}
}

// groups returns the named groups and the versions each serves, storage version first.
func (s *Server) groups() []metav1.APIGroup {
	byName := map[string]*metav1.APIGroup{}
	var names []string
	for _, k := range s.cfg.Registry.Kinds() {
		if k.Group == "" {
			continue
		}
		g := byName[k.Group]
		if g == nil {
			g = &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: k.Group}
			byName[k.Group] = g
			names = append(names, k.Group)
		}
		for _, v := range k.Versions {
			gv := metav1.GroupVersionForDiscovery{GroupVersion: api.APIVersion(k.Group, v.Name), Version: v.Name}
			if !containsVersion(g.Versions, gv) {
				g.Versions = append(g.Versions, gv)
			}
			if v.Storage {
				g.PreferredVersion = gv
			}
		}
	}
	sort.Strings(names)
	out := make([]metav1.APIGroup, 0, len(names))
	for _, n := range names {
		out = append(out, *byName[n])
	}
	return out
}

func containsVersion(vs []metav1.GroupVersionForDiscovery, v metav1.GroupVersionForDiscovery) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

func (s *Server) groupList() *metav1.APIGroupList {
	return &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: s.groups()}
}

func (s *Server) group(name string) (*metav1.APIGroup, bool) {
	for _, g := range s.groups() {
		if g.Name == name {
			return &g, true
		}
	}
	return nil, false
}

// resourceList is the discovery document of one group version.
func (s *Server) resourceList(group, version string) *metav1.APIResourceList {
	rl := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: api.APIVersion(group, version),
	}
	for _, k := range s.cfg.Registry.Kinds() {
		if k.Group != group || k.Version(version) == nil {
			continue
		}
		rl.APIResources = append(rl.APIResources,
			metav1.APIResource{Name: k.Plural, SingularName: k.Singular, Namespaced: k.Namespaced, Kind: k.Kind, Verbs: allVerbs, ShortNames: k.ShortNames},
			metav1.APIResource{Name: k.Plural + "/status", Namespaced: k.Namespaced, Kind: k.Kind, Verbs: metav1.Verbs{"get", "patch", "update"}},
		)
	}
	return rl
}
