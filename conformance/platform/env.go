package platformconf

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// env is a case's room on a platform: a namespace of its own and the objects created in it,
// deleted when the case ends.
type env struct {
	s  *suite
	p  *Platform
	c  *client
	ns string

	mu      sync.Mutex
	created []createdObject
}

// createdObject is an object a case created, for the cleanup.
type createdObject struct {
	k    kind
	name string
}

// newEnv makes a namespace for a case on p; its objects and the namespace are deleted when
// the case ends.
func (s *suite) newEnv(t *caseT, p *Platform) *env {
	t.Helper()
	e := &env{s: s, p: p, c: newClient(p), ns: s.newNamespace()}
	ctx, cancel := context.WithTimeout(context.Background(), s.target.Timeout)
	defer cancel()
	nsObj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": e.ns},
	}}
	if _, err := e.c.create(ctx, "", nsObj); err != nil {
		t.Fatalf("creating the case's namespace %s: %v", e.ns, err)
	}
	tt := t.T
	tt.Cleanup(func() { e.cleanup(tt) })
	return e
}

// cleanup deletes what the case created, newest first, waits for each object to be gone (a
// Subscription's finalizer runs first) and for each channel's and broker's address to stop
// answering, then deletes the namespace. Problems are logged: the case has its verdict.
func (e *env) cleanup(tt interface{ Logf(string, ...any) }) {
	ctx, cancel := context.WithTimeout(context.Background(), e.s.target.Timeout)
	defer cancel()
	e.mu.Lock()
	objs := append([]createdObject(nil), e.created...)
	e.mu.Unlock()
	var addresses []string
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		if o.k == kindBroker || o.k == kindChannel {
			if u, err := e.c.get(ctx, o.k, e.ns, o.name); err == nil {
				if a := str(u, "status", "address", "url"); a != "" {
					addresses = append(addresses, a)
				}
			}
		}
		if err := e.c.delete(ctx, o.k, e.ns, o.name); err != nil && codeOf(err) != http.StatusNotFound {
			tt.Logf("cleanup: deleting %s %s/%s: %v", o.k.Kind, e.ns, o.name, err)
		}
	}
	for _, o := range objs {
		for {
			_, err := e.c.get(ctx, o.k, e.ns, o.name)
			if codeOf(err) == http.StatusNotFound {
				break
			}
			if ctx.Err() != nil {
				tt.Logf("cleanup: %s %s/%s is still there: %v", o.k.Kind, e.ns, o.name, err)
				break
			}
			time.Sleep(20 * time.Millisecond) // polling the API
		}
	}
	for _, a := range addresses {
		for ctx.Err() == nil {
			code, _ := postStatus(ctx, a)
			if code == http.StatusNotFound {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling the ingress
		}
	}
	if err := e.c.delete(ctx, kindNamespace, "", e.ns); err != nil && codeOf(err) != http.StatusNotFound {
		tt.Logf("cleanup: deleting namespace %s: %v", e.ns, err)
	}
}

// postStatus POSTs an empty, invalid request and returns the status code: 404 when nothing
// is at url, 400 when an ingress is.
func postStatus(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(""))
	if err != nil {
		return 0, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ctx returns a context bounded by the target's timeout.
func (t *caseT) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), t.Timeout())
}

// ns is the case's namespace.
func (t *caseT) ns() string { return t.env.ns }

// ingress is the data plane's base URL.
func (t *caseT) ingress() string { return strings.TrimSuffix(t.env.p.Ingress, "/") }

// tryApply creates every object of the YAML documents (after fmt.Sprintf with args) in the
// case's namespace and returns the first error, such as the API's rejection.
func (t *caseT) tryApply(yaml string, args ...any) ([]*unstructured.Unstructured, error) {
	objs, err := decodeYAML([]byte(fmt.Sprintf(yaml, args...)))
	if err != nil {
		return nil, err
	}
	return t.createObjects(objs)
}

func (t *caseT) createObjects(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	ctx, cancel := t.ctx()
	defer cancel()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		got, err := t.env.c.create(ctx, t.ns(), o)
		if err != nil {
			return out, fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		t.env.mu.Lock()
		t.env.created = append(t.env.created, createdObject{kindOf(got), got.GetName()})
		t.env.mu.Unlock()
		out = append(out, got)
	}
	return out, nil
}

// apply is tryApply that fails the case on an error.
func (t *caseT) apply(yaml string, args ...any) []*unstructured.Unstructured {
	t.Helper()
	objs, err := t.tryApply(yaml, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return objs
}

// get reads an object of the case's namespace; nil and the error when it cannot.
func (t *caseT) get(k kind, name string) (*unstructured.Unstructured, error) {
	ctx, cancel := t.ctx()
	defer cancel()
	return t.env.c.get(ctx, k, t.ns(), name)
}

// mustGet is get that fails the case on an error.
func (t *caseT) mustGet(k kind, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := t.get(k, name)
	if err != nil {
		t.Fatalf("reading %s %s: %v", k.Kind, name, err)
	}
	return u
}

// waitFor polls an object until cond holds and returns it.
func (t *caseT) waitFor(k kind, name, what string, cond func(u *unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	var u *unstructured.Unstructured
	t.eventually(fmt.Sprintf("%s %s to be %s", k.Kind, name, what), func() (bool, string) {
		var err error
		if u, err = t.get(k, name); err != nil {
			return false, err.Error()
		}
		return cond(u), describe(u)
	})
	return u
}

// ready waits for an object's Ready condition to be True and returns the object.
func (t *caseT) ready(k kind, name string) *unstructured.Unstructured {
	t.Helper()
	return t.waitFor(k, name, "Ready", func(u *unstructured.Unstructured) bool { return cond(u, "Ready").Status == "True" })
}

// address waits for a Broker or Channel to be Ready and returns its status.address.url.
func (t *caseT) address(k kind, name string) string {
	t.Helper()
	u := t.ready(k, name)
	a := str(u, "status", "address", "url")
	if a == "" {
		t.Fatalf("%s %s is Ready but has no status.address.url", k.Kind, name)
	}
	return a
}

// tryUpdate reads an object, changes it with mutate and writes it back, again on a conflict.
func (t *caseT) tryUpdate(k kind, name string, mutate func(u *unstructured.Unstructured)) (*unstructured.Unstructured, error) {
	ctx, cancel := t.ctx()
	defer cancel()
	for {
		u, err := t.env.c.get(ctx, k, t.ns(), name)
		if err != nil {
			return nil, err
		}
		mutate(u)
		got, err := t.env.c.update(ctx, u)
		if codeOf(err) == http.StatusConflict && ctx.Err() == nil {
			continue
		}
		return got, err
	}
}

// update is tryUpdate that fails the case on an error.
func (t *caseT) update(k kind, name string, mutate func(u *unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	u, err := t.tryUpdate(k, name, mutate)
	if err != nil {
		t.Fatalf("updating %s %s: %v", k.Kind, name, err)
	}
	return u
}

// remove deletes an object and waits until the API no longer has it.
func (t *caseT) remove(k kind, name string) {
	t.Helper()
	ctx, cancel := t.ctx()
	defer cancel()
	if err := t.env.c.delete(ctx, k, t.ns(), name); err != nil {
		t.Fatalf("deleting %s %s: %v", k.Kind, name, err)
	}
	t.eventually(fmt.Sprintf("%s %s to be gone", k.Kind, name), func() (bool, string) {
		_, err := t.get(k, name)
		return codeOf(err) == http.StatusNotFound, fmt.Sprint(err)
	})
}

// ownPlatform starts a platform for this case alone and moves the case there (a new
// namespace on it); the platform stops when the case ends.
func (t *caseT) ownPlatform() {
	t.Helper()
	p := t.s.target.Start(t.T)
	if p == nil || p.API == "" {
		t.Fatalf("Target.Start returned no platform")
	}
	t.env = t.s.newEnv(t, p)
}

// restart restarts the case's platform (see ownPlatform) over the same store and bus.
func (t *caseT) restart() {
	t.Helper()
	if t.env.p.Restart == nil {
		t.Skipf("the target cannot restart its platform (Platform.Restart is nil): %s needs it", t.name)
	}
	p := t.env.p.Restart(t.T)
	if p == nil || p.API == "" {
		t.Fatalf("Platform.Restart returned no platform")
	}
	t.env.p = p
	t.env.c.retarget(p)
}
