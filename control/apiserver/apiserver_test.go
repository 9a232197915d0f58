package apiserver_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/control/store/bolt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

const token = "test-token"

// server starts the API over a real bolt store on a real loopback listener.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := kinds.NewRegistry()
	for _, ns := range []string{"default", "other"} {
		obj, _, err := reg.Admit(&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := api.ToUnstructured(obj)
		if _, err := st.Create(context.Background(), schema.GroupResource{Resource: "namespaces"}, u); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(apiserver.New(apiserver.Config{Store: st, Registry: reg, Token: token, Version: "test"}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	code int
	body string
}

func (r response) status(t *testing.T) metav1.Status {
	t.Helper()
	var st metav1.Status
	if err := json.Unmarshal([]byte(r.body), &st); err != nil || st.Kind != "Status" {
		t.Fatalf("body is not a Status (%v): %s", err, r.body)
	}
	return st
}

func do(t *testing.T, srv *httptest.Server, method, path, tok, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(data)}
}

func TestUnauthorizedIsRefusedAndCounted(t *testing.T) {
	srv := server(t)
	for _, tok := range []string{"", "wrong"} {
		r := do(t, srv, "GET", "/api/v1/namespaces/default/configmaps", tok, "", "")
		if r.code != 401 {
			t.Fatalf("token %q: code %d, want 401", tok, r.code)
		}
		if st := r.status(t); st.Reason != metav1.StatusReasonUnauthorized {
			t.Fatalf("reason %q", st.Reason)
		}
	}
	for _, open := range []string{"/healthz", "/readyz", "/version", "/metrics"} {
		if r := do(t, srv, "GET", open, "", "", ""); r.code != 200 {
			t.Fatalf("%s: code %d without a token, want 200", open, r.code)
		}
	}
	m := do(t, srv, "GET", "/metrics", "", "", "")
	if !strings.Contains(m.body, "eddy_api_unauthorized_total 2") {
		t.Fatalf("metrics do not count the two refusals:\n%s", grepLines(m.body, "unauthorized"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestCRUDOverHTTP(t *testing.T) {
	srv := server(t)
	const coll = "/api/v1/namespaces/default/configmaps"
	r := do(t, srv, "POST", coll, token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app","labels":{"tier":"web"}},"data":{"k":"v1"}}`)
	if r.code != 201 {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	var created corev1.ConfigMap
	json.Unmarshal([]byte(r.body), &created)
	if created.UID == "" || created.ResourceVersion == "" || created.Generation != 1 || created.Namespace != "default" {
		t.Fatalf("server-set metadata missing: %+v", created.ObjectMeta)
	}
	if r := do(t, srv, "POST", coll, token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app"}}`); r.code != 409 || r.status(t).Reason != metav1.StatusReasonAlreadyExists {
		t.Fatalf("duplicate create: %d %s", r.code, r.body)
	}

	r = do(t, srv, "GET", coll+"/app", token, "", "")
	if r.code != 200 || !strings.Contains(r.body, `"k":"v1"`) {
		t.Fatalf("get: %d %s", r.code, r.body)
	}
	r = do(t, srv, "GET", coll+"?labelSelector=tier%3Dweb", token, "", "")
	if r.code != 200 || !strings.Contains(r.body, `"kind":"ConfigMapList"`) || !strings.Contains(r.body, `"name":"app"`) {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "GET", coll+"?labelSelector=tier%3Ddb", token, "", ""); strings.Contains(r.body, `"name":"app"`) {
		t.Fatalf("label selector did not filter: %s", r.body)
	}

	upd := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app","resourceVersion":%q},"data":{"k":"v2"}}`, created.ResourceVersion)
	r = do(t, srv, "PUT", coll+"/app", token, "application/json", upd)
	if r.code != 200 || !strings.Contains(r.body, `"k":"v2"`) {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	// The same body again carries a stale resourceVersion now.
	r = do(t, srv, "PUT", coll+"/app", token, "application/json", strings.Replace(upd, "v2", "v3", 1))
	if r.code != 409 || r.status(t).Reason != metav1.StatusReasonConflict {
		t.Fatalf("stale update: %d %s", r.code, r.body)
	}

	r = do(t, srv, "PATCH", coll+"/app", token, "application/merge-patch+json", `{"data":{"extra":"x"}}`)
	if r.code != 200 || !strings.Contains(r.body, `"extra":"x"`) || !strings.Contains(r.body, `"k":"v2"`) {
		t.Fatalf("merge patch: %d %s", r.code, r.body)
	}
	r = do(t, srv, "PATCH", coll+"/app", token, "application/json-patch+json", `[{"op":"remove","path":"/data/extra"}]`)
	if r.code != 200 || strings.Contains(r.body, `"extra"`) {
		t.Fatalf("json patch: %d %s", r.code, r.body)
	}

	if r := do(t, srv, "DELETE", coll+"/app", token, "", ""); r.code != 200 {
		t.Fatalf("delete: %d %s", r.code, r.body)
	}
	r = do(t, srv, "GET", coll+"/app", token, "", "")
	if r.code != 404 || r.status(t).Reason != metav1.StatusReasonNotFound {
		t.Fatalf("get after delete: %d %s", r.code, r.body)
	}
}

func TestBadRequestsNameTheProblem(t *testing.T) {
	srv := server(t)
	const coll = "/api/v1/namespaces/default/configmaps"
	cases := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"unknown field", "POST", coll, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"dta":{}}`, 400, `unknown field \"dta\"`},
		{"unknown nested field", "POST", coll, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","lables":{}}}`, 400, `unknown field \"metadata.lables\"`},
		{"invalid name", "POST", coll, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, `metadata.name`},
		{"kind mismatch", "POST", coll, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}}`, 400, `path names ConfigMap`},
		{"namespace mismatch", "POST", coll, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"other"}}`, 400, `does not match`},
		{"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`, 404, `namespaces \"nope\" not found`},
		{"unknown resource", "GET", "/apis/example.com/v1/namespaces/default/gadgets", "", 404, `gadgets`},
		{"not JSON", "POST", coll, `{`, 400, ``},
		{"unsupported patch", "PATCH", coll + "/a", `{}`, 415, `merge-patch`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := "application/json"
			if c.method == "PATCH" {
				ct = "application/strategic-merge-patch+json"
				do(t, srv, "POST", coll, token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}`)
			}
			r := do(t, srv, c.method, c.path, token, ct, c.body)
			if r.code != c.code || !strings.Contains(r.body, c.want) {
				t.Fatalf("%d %s; want %d containing %s", r.code, r.body, c.code, c.want)
			}
			st := r.status(t)
			if int(st.Code) != c.code {
				t.Fatalf("Status.code = %d, want %d", st.Code, c.code)
			}
		})
	}
	// Invalid objects carry field causes.
	r := do(t, srv, "POST", coll, token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`)
	st := r.status(t)
	if st.Details == nil || len(st.Details.Causes) == 0 || st.Details.Causes[0].Field != "metadata.name" {
		t.Fatalf("no field cause in %s", r.body)
	}
}

func TestTooLargeBody(t *testing.T) {
	srv := server(t)
	big := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"` + strings.Repeat("x", 9<<20) + `"}}`
	if r := do(t, srv, "POST", "/api/v1/namespaces/default/configmaps", token, "application/json", big); r.code != 413 {
		t.Fatalf("code %d, want 413", r.code)
	}
}

func TestWatchOrderAcrossCreateUpdateDelete(t *testing.T) {
	srv := server(t)
	const coll = "/api/v1/namespaces/default/configmaps"
	l := do(t, srv, "GET", coll, token, "", "")
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON([]byte(l.body)); err != nil {
		t.Fatal(err)
	}
	// Write before the watch starts: a watch from the list's version must still see it all.
	do(t, srv, "POST", coll, token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w"},"data":{"n":"1"}}`)
	do(t, srv, "PATCH", coll+"/w", token, "application/merge-patch+json", `{"data":{"n":"2"}}`)
	do(t, srv, "DELETE", coll+"/w", token, "", "")

	req, _ := http.NewRequest("GET", srv.URL+coll+"?watch=true&resourceVersion="+list.GetResourceVersion(), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := srv.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var types []string
	var lastRV int
	for len(types) < 3 && sc.Scan() {
		var ev struct {
			Type   string                    `json:"type"`
			Object unstructured.Unstructured `json:"object"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("watch line %q: %v", sc.Text(), err)
		}
		var rv int
		fmt.Sscan(ev.Object.GetResourceVersion(), &rv)
		if rv <= lastRV {
			t.Fatalf("resourceVersion went from %d to %d", lastRV, rv)
		}
		lastRV = rv
		types = append(types, ev.Type)
	}
	if got := strings.Join(types, ","); got != "ADDED,MODIFIED,DELETED" {
		t.Fatalf("watch events %s, want ADDED,MODIFIED,DELETED", got)
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	srv := server(t)
	const coll = "/api/v1/namespaces/default/secrets"
	r := do(t, srv, "POST", coll+"?dryRun=All", token, "application/json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"}}`)
	if r.code != 201 || !strings.Contains(r.body, `"type":"Opaque"`) {
		t.Fatalf("dry-run create: %d %s", r.code, r.body)
	}
	if r := do(t, srv, "GET", coll+"/s", token, "", ""); r.code != 404 {
		t.Fatalf("dry run stored the object: %d", r.code)
	}
}

func TestDiscoveryAndClusterScope(t *testing.T) {
	srv := server(t)
	r := do(t, srv, "GET", "/api/v1", token, "", "")
	if !strings.Contains(r.body, `"name":"configmaps"`) || !strings.Contains(r.body, `"shortNames":["ns"]`) {
		t.Fatalf("/api/v1: %s", r.body)
	}
	r = do(t, srv, "GET", "/api/v1/namespaces/default", token, "", "")
	if r.code != 200 || !strings.Contains(r.body, `"phase":"Active"`) {
		t.Fatalf("get namespace: %d %s", r.code, r.body)
	}
	do(t, srv, "POST", "/api/v1/namespaces/other/configmaps", token, "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`)
	r = do(t, srv, "GET", "/api/v1/configmaps", token, "", "")
	if !strings.Contains(r.body, `"namespace":"other"`) {
		t.Fatalf("all-namespaces list: %s", r.body)
	}
	r = do(t, srv, "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dx", token, "", "")
	if strings.Contains(r.body, `"name":"x"`) {
		t.Fatalf("field selector or namespace scoping leaked: %s", r.body)
	}
}

// TestClientGoDynamicClient proves the API speaks Kubernetes' dialect: client-go's dynamic
// client creates, lists, watches and deletes through it.
func TestClientGoDynamicClient(t *testing.T) {
	srv := server(t)
	dc, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL, BearerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cms := dc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default")
	l, err := cms.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx, metav1.ListOptions{ResourceVersion: l.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "dyn"}}}
	if _, err := cms.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != "ADDED" || ev.Object.(*unstructured.Unstructured).GetName() != "dyn" {
			t.Fatalf("event %v", ev)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event")
	}
	_, err = cms.Get(ctx, "missing", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("Get(missing) = %v, want NotFound", err)
	}
	if err := cms.Delete(ctx, "dyn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
