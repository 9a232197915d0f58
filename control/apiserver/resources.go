package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/store"
	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// target is what a resource path names.
type target struct {
	kind        *api.Kind
	version     string // the version in the URL
	namespace   string // "" for cluster-scoped kinds and all-namespace collections
	name        string // "" for collections
	subresource string // "", "status" or "log"
}

// parse reads a resource path (already split into segments).
func (s *Server) parse(segs []string) (target, error) {
	var t target
	var group string
	switch {
	case len(segs) >= 3 && segs[0] == "api" && segs[1] == "v1":
		t.version, segs = "v1", segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		group, t.version, segs = segs[1], segs[2], segs[3:]
	default:
		return t, apierrors.NewNotFound(groupResourceNone, "/"+strings.Join(segs, "/"))
	}
	// namespaces/{ns}/{plural}/… names a namespaced collection; namespaces/{name}[/status]
	// names a Namespace.
	if len(segs) >= 3 && segs[0] == "namespaces" && group == "" && !(len(segs) == 3 && segs[2] == "status") ||
		len(segs) >= 3 && segs[0] == "namespaces" && group != "" {
		t.namespace, segs = segs[1], segs[2:]
	}
	if len(segs) > 3 || segs[0] == "" {
		return t, apierrors.NewNotFound(groupResourceNone, strings.Join(segs, "/"))
	}
	gr := schema.GroupResource{Group: group, Resource: segs[0]}
	k, ok := s.cfg.Registry.ForResource(gr)
	if !ok || k.Version(t.version) == nil {
		return t, apierrors.NewNotFound(gr, fmt.Sprintf("the server could not find the requested resource %s in version %q", gr, t.version))
	}
	t.kind = k
	if t.namespace != "" && !k.Namespaced {
		return t, apierrors.NewBadRequest(fmt.Sprintf("%s is cluster-scoped: it has no namespace in its path", k.Plural))
	}
	if len(segs) >= 2 {
		t.name = segs[1]
	}
	if len(segs) == 3 {
		_, hasLog := s.cfg.Logs[gr]
		if segs[2] != "status" && !(segs[2] == "log" && hasLog) {
			return t, apierrors.NewNotFound(gr, fmt.Sprintf("%s has no subresource %q", k.Plural, segs[2]))
		}
		t.subresource = segs[2]
	}
	if t.name != "" && k.Namespaced && t.namespace == "" {
		return t, apierrors.NewBadRequest(fmt.Sprintf("%s is namespaced: use /…/namespaces/{namespace}/%s/%s", k.Plural, k.Plural, t.name))
	}
	return t, nil
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, t target) (verb string) {
	ctx := r.Context()
	q := r.URL.Query()
	var (
		obj any
		err error
	)
	code := http.StatusOK
	switch {
	case t.subresource == "log":
		if r.Method != http.MethodGet {
			writeStatus(w, methodNotAllowed(r.Method, r.URL.Path))
			return strings.ToLower(r.Method)
		}
		s.serveLog(w, r, t)
		return "log"
	case r.Method == http.MethodGet && t.name == "" && q.Get("watch") == "true":
		s.watch(w, r, t)
		return "watch"
	case r.Method == http.MethodGet && t.name == "":
		verb = "list"
		obj, err = s.list(ctx, t, q.Get("labelSelector"), q.Get("fieldSelector"))
	case r.Method == http.MethodGet:
		verb = "get"
		obj, err = s.cfg.Store.Get(ctx, t.kind.Resource(), t.namespace, t.name)
	case r.Method == http.MethodPost && t.name == "":
		verb, code = "create", http.StatusCreated
		obj, err = s.create(ctx, r, t, isDryRun(r))
	case r.Method == http.MethodPut && t.name != "":
		verb = "update"
		obj, err = s.update(ctx, r, t, isDryRun(r))
	case r.Method == http.MethodPatch && t.name != "":
		verb = "patch"
		obj, err = s.patch(ctx, r, t, isDryRun(r))
	case r.Method == http.MethodDelete && t.name != "" && t.subresource == "":
		verb = "delete"
		obj, err = s.delete(ctx, r, t)
	default:
		verb = strings.ToLower(r.Method)
		err = methodNotAllowed(r.Method, r.URL.Path)
	}
	if err != nil {
		writeStatus(w, err)
		return verb
	}
	writeJSON(w, code, obj)
	return verb
}

func isDryRun(r *http.Request) bool {
	for _, v := range r.URL.Query()["dryRun"] {
		if v == "All" {
			return true
		}
	}
	return false
}

func (s *Server) list(ctx context.Context, t target, labelSel, fieldSel string) (*unstructured.UnstructuredList, error) {
	opts, fsel, err := selectors(labelSel, fieldSel)
	if err != nil {
		return nil, err
	}
	l, err := s.cfg.Store.List(ctx, t.kind.Resource(), t.namespace, opts)
	if err != nil {
		return nil, err
	}
	if fsel != nil {
		kept := l.Items[:0]
		for _, it := range l.Items {
			if fsel.Matches(objectFields{&it}) {
				kept = append(kept, it)
			}
		}
		l.Items = kept
	}
	if l.Items == nil {
		l.Items = []unstructured.Unstructured{}
	}
	gvk := t.kind.StorageGVK()
	l.SetAPIVersion(gvk.GroupVersion().String())
	l.SetKind(gvk.Kind + "List")
	return l, nil
}

// selectors parses label and field selectors.
func selectors(labelSel, fieldSel string) (store.ListOptions, fields.Selector, error) {
	var opts store.ListOptions
	if labelSel != "" {
		sel, err := labels.Parse(labelSel)
		if err != nil {
			return opts, nil, apierrors.NewBadRequest(fmt.Sprintf("labelSelector: %v", err))
		}
		opts.LabelSelector = sel
	}
	var fsel fields.Selector
	if fieldSel != "" {
		sel, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return opts, nil, apierrors.NewBadRequest(fmt.Sprintf("fieldSelector: %v", err))
		}
		fsel = sel
	}
	return opts, fsel, nil
}

// objectFields exposes an object's scalar fields by dotted path, for field selectors.
type objectFields struct{ *unstructured.Unstructured }

// Has implements fields.Fields.
func (f objectFields) Has(field string) bool {
	_, found, _ := unstructured.NestedFieldNoCopy(f.Object, strings.Split(field, ".")...)
	return found
}

// Get implements fields.Fields.
func (f objectFields) Get(field string) string {
	v, found, _ := unstructured.NestedFieldNoCopy(f.Object, strings.Split(field, ".")...)
	if !found || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// readObject decodes the request body into a typed object of the URL's version, checks it
// names the URL's kind, namespace and name, and admits it (storage version, defaulted,
// validated).
func (s *Server) readObject(r *http.Request, t target) (api.Object, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	return s.admitBody(body, t)
}

func (s *Server) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading body: %v", err))
	}
	return body, nil
}

func (s *Server) admitBody(body []byte, t target) (api.Object, error) {
	obj, err := s.cfg.Registry.Decode(body)
	if err != nil {
		return nil, err
	}
	gvk := api.GVK(obj)
	if gvk.Group != t.kind.Group || gvk.Kind != t.kind.Kind {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body is a %s but the path names %s", gvk.GroupKind(), t.kind.GroupKind()))
	}
	if t.kind.Namespaced {
		switch ns := obj.GetNamespace(); {
		case ns == "":
			obj.SetNamespace(t.namespace)
		case ns != t.namespace:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace of the path (%s)", ns, t.namespace))
		}
	}
	if t.name != "" && obj.GetName() != t.name {
		if obj.GetName() == "" {
			obj.SetName(t.name)
		} else {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name in the path (%s)", obj.GetName(), t.name))
		}
	}
	admitted, _, err := s.cfg.Registry.Admit(obj)
	return admitted, err
}

func (s *Server) create(ctx context.Context, r *http.Request, t target, dryRun bool) (*unstructured.Unstructured, error) {
	if t.kind.Namespaced && t.namespace == "" {
		return nil, apierrors.NewBadRequest("create needs a namespace in the path")
	}
	obj, err := s.readObject(r, t)
	if err != nil {
		return nil, err
	}
	if err := s.namespaceExists(ctx, t); err != nil {
		return nil, err
	}
	u, err := api.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if dryRun {
		if u.GetName() != "" {
			if _, err := s.cfg.Store.Get(ctx, t.kind.Resource(), t.namespace, u.GetName()); err == nil {
				return nil, apierrors.NewAlreadyExists(t.kind.Resource(), u.GetName())
			}
		}
		return u, nil
	}
	return s.cfg.Store.Create(ctx, t.kind.Resource(), u)
}

func (s *Server) namespaceExists(ctx context.Context, t target) error {
	if !t.kind.Namespaced {
		return nil
	}
	_, err := s.cfg.Store.Get(ctx, schema.GroupResource{Resource: "namespaces"}, "", t.namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, t.namespace)
	}
	return err
}

func (s *Server) update(ctx context.Context, r *http.Request, t target, dryRun bool) (*unstructured.Unstructured, error) {
	obj, err := s.readObject(r, t)
	if err != nil {
		return nil, err
	}
	return s.store(ctx, t, obj, dryRun)
}

// store writes an admitted object as an update of the spec or of the status.
func (s *Server) store(ctx context.Context, t target, obj api.Object, dryRun bool) (*unstructured.Unstructured, error) {
	old, err := s.cfg.Store.Get(ctx, t.kind.Resource(), t.namespace, t.name)
	if err != nil {
		return nil, err
	}
	if t.subresource == "" {
		oldTyped := t.kind.NewStorage()
		if err := api.FromUnstructured(old, oldTyped); err != nil {
			return nil, err
		}
		if err := t.kind.CheckUpdate(oldTyped, obj); err != nil {
			return nil, err
		}
	}
	u, err := api.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	if dryRun {
		if rv := u.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
			return nil, apierrors.NewConflict(t.kind.Resource(), t.name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		return u, nil
	}
	if t.subresource == "status" {
		return s.cfg.Store.UpdateStatus(ctx, t.kind.Resource(), u)
	}
	return s.cfg.Store.Update(ctx, t.kind.Resource(), u)
}

// maxPatchRetries bounds how often a patch is re-applied when a concurrent write wins.
const maxPatchRetries = 5

func (s *Server) patch(ctx context.Context, r *http.Request, t target, dryRun bool) (*unstructured.Unstructured, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	var apply func(doc []byte) ([]byte, error)
	switch strings.TrimSpace(ct) {
	case "application/merge-patch+json":
		apply = func(doc []byte) ([]byte, error) { return jsonpatch.MergePatch(doc, body) }
	case "application/json-patch+json":
		p, err := jsonpatch.DecodePatch(body)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("json patch: %v", err))
		}
		apply = p.Apply
	default:
		return nil, unsupportedMediaType(ct)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.cfg.Store.Get(ctx, t.kind.Resource(), t.namespace, t.name)
		if err != nil {
			return nil, err
		}
		doc, err := cur.MarshalJSON()
		if err != nil {
			return nil, err
		}
		patched, err := apply(doc)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("applying patch: %v", err))
		}
		// The patch is applied to the stored version, whatever version the URL names.
		gvk := t.kind.StorageGVK()
		tt := t
		tt.version = gvk.Version
		obj, err := s.admitBody(withTypeOf(patched, gvk), tt)
		if err != nil {
			return nil, err
		}
		if obj.GetResourceVersion() == "" {
			obj.SetResourceVersion(cur.GetResourceVersion())
		}
		out, err := s.store(ctx, t, obj, dryRun)
		if apierrors.IsConflict(err) && attempt < maxPatchRetries && !patchNamesVersion(body) {
			continue
		}
		return out, err
	}
}

// withTypeOf forces apiVersion and kind in a patched document, so a patch can't change them.
func withTypeOf(doc []byte, gvk schema.GroupVersionKind) []byte {
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil {
		return doc
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	out, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return out
}

// patchNamesVersion reports whether a patch pins metadata.resourceVersion, in which case a
// conflict is the caller's answer, not a reason to retry.
func patchNamesVersion(patch []byte) bool {
	return strings.Contains(string(patch), `"resourceVersion"`)
}

func (s *Server) delete(ctx context.Context, r *http.Request, t target) (*unstructured.Unstructured, error) {
	var opts store.DeleteOptions
	if body, err := s.readBody(r); err != nil {
		return nil, err
	} else if len(strings.TrimSpace(string(body))) > 0 {
		var do metav1.DeleteOptions
		if err := json.Unmarshal(body, &do); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("DeleteOptions: %v", err))
		}
		if do.Preconditions != nil {
			if do.Preconditions.ResourceVersion != nil {
				opts.ResourceVersion = *do.Preconditions.ResourceVersion
			}
			if do.Preconditions.UID != nil {
				opts.UID = string(*do.Preconditions.UID)
			}
		}
	}
	if isDryRun(r) {
		return s.cfg.Store.Get(ctx, t.kind.Resource(), t.namespace, t.name)
	}
	return s.cfg.Store.Delete(ctx, t.kind.Resource(), t.namespace, t.name, opts)
}
