// Package reconcilertest runs a Reconciler against table-driven test cases, in the manner of
// knative/pkg's reconciler/testing: each Row seeds a fresh store with objects, reconciles one
// key, and compares the writes the reconciler made (creates, updates, status updates, deletes
// and events) with the wanted ones.
//
// The store is the real embedded store (control/store/bolt) in a temporary directory,
// wrapped in a RecordingStore, so reconcilers are tested against the same optimistic
// concurrency, generation and watch behaviour they meet in production.
package reconcilertest

import (
	"context"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/control/store/bolt"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Row is one test case: objects in, one reconcile, wanted writes out.
type Row struct {
	// Name names the subtest.
	Name string
	// Objects are stored in order (defaulted and validated, with their status) before the
	// reconciler is built. Their uid, resourceVersion and creationTimestamp are set by the
	// store; an owner reference to an object stored before it is pointed at that object's new
	// uid (matched by the uid the test gave the owner, or by kind and name when the reference
	// has no uid), so that metav1.IsControlledBy works on seeded objects.
	Objects []api.Object
	// Key is the key to reconcile: "namespace/name", or "name" for cluster-scoped kinds.
	Key string
	// InduceFailures makes writes fail with an InternalError after they are recorded: each is
	// "verb resource", verb one of create, update, update-status, delete, such as
	// "create secrets".
	InduceFailures []string

	// WantCreates, WantUpdates and WantStatusUpdates are the objects the reconciler should
	// have written, in order. They are defaulted by their kind before the comparison; see
	// Table.Test for what the comparison ignores.
	WantCreates, WantUpdates, WantStatusUpdates []api.Object
	// WantDeletes are "resource namespace/name", such as "secrets default/app".
	WantDeletes []string
	// WantEvents are "Type Reason message", such as "Normal Created created secret app".
	WantEvents []string
	// WantErr says Reconcile should fail (with any error but RequeueAfter).
	WantErr bool
	// WantRequeueAfter, when set, says Reconcile should return RequeueAfter of this delay.
	WantRequeueAfter time.Duration
}

// Table is a list of rows run as subtests.
type Table []Row

// Env is what a Factory builds a reconciler from, all backed by one row's store.
type Env struct {
	// Registry resolves kinds.
	Registry *api.Registry
	// Store is the recording store.
	Store *RecordingStore
	// Client writes through the recording store.
	Client *reconciler.Client
	// Recorder records events through Client, as component "test".
	Recorder *reconciler.Recorder
	// Cache serves Listers; it is started, and synced with the row's Objects, after the
	// factory returns and before Reconcile is called.
	Cache *reconciler.Cache
}

// Factory builds the reconciler under test. It runs once per row; it may create Listers
// with reconciler.NewLister[T](env.Cache).
type Factory func(t *testing.T, env *Env) reconciler.Reconciler

// Option changes how a Table runs.
type Option func(*options)

type options struct{ reg *api.Registry }

// WithRegistry makes the rows use reg instead of kinds.NewRegistry(), for kinds only tests
// define.
func WithRegistry(reg *api.Registry) Option { return func(o *options) { o.reg = reg } }

// Test runs every row as a subtest of t: a fresh bolt store in t.TempDir() seeded with the
// row's Objects, the reconciler from factory, one Reconcile of the row's Key, and the
// comparison of what happened with what the row wants. Mismatches are reported with a diff.
//
// Objects are compared as the store would keep them, ignoring what the store sets
// (metadata.uid, resourceVersion, creationTimestamp, generation, managedFields), the uid of
// owner references (the owner's uid is only known once it is stored), and conditions'
// lastTransitionTime.
func (tt Table) Test(t *testing.T, factory Factory, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	for _, row := range tt {
		t.Run(row.Name, func(t *testing.T) {
			reg := o.reg
			if reg == nil {
				reg = kinds.NewRegistry()
			}
			row.run(t, reg, factory)
		})
	}
}

func (row Row) run(t *testing.T, reg *api.Registry, factory Factory) {
	ctx := t.Context()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	uids := newUIDMap()
	for _, obj := range row.Objects {
		if err := seed(ctx, st, reg, uids, obj); err != nil {
			t.Fatalf("seeding %T %s: %v", obj, api.Key(obj), err)
		}
	}

	rec := NewRecordingStore(st, row.InduceFailures...)
	client := reconciler.NewClient(rec, reg)
	env := &Env{
		Registry: reg,
		Store:    rec,
		Client:   client,
		Recorder: reconciler.NewRecorder(client, "test"),
		Cache:    reconciler.NewCache(rec, reg, reconciler.CacheOptions{}),
	}
	r := factory(t, env)
	cacheCtx, stop := context.WithCancel(ctx)
	defer env.Cache.Wait()
	defer stop()
	env.Cache.Start(cacheCtx)
	if !env.Cache.WaitForSync(ctx) {
		t.Fatal("cache did not sync")
	}

	err = r.Reconcile(ctx, row.Key)
	after, requeue := reconciler.IsRequeueAfter(err)
	switch {
	case row.WantRequeueAfter != 0:
		if !requeue || after != row.WantRequeueAfter {
			t.Errorf("Reconcile(%q) = %v, want RequeueAfter(%v)", row.Key, err, row.WantRequeueAfter)
		}
	case row.WantErr && (err == nil || requeue):
		t.Errorf("Reconcile(%q) = %v, want an error", row.Key, err)
	case !row.WantErr && err != nil:
		t.Errorf("Reconcile(%q) = %v, want success", row.Key, err)
	}

	problems, err := row.check(reg, rec.Actions())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// check compares what the reconciler did with what the row wants.
func (row Row) check(reg *api.Registry, got Actions) ([]string, error) {
	var problems []string
	for _, c := range []struct {
		what string
		want []api.Object
		got  []*unstructured.Unstructured
	}{
		{"create", row.WantCreates, got.Creates},
		{"update", row.WantUpdates, got.Updates},
		{"status update", row.WantStatusUpdates, got.StatusUpdates},
	} {
		p, err := diffObjects(reg, c.what, c.want, c.got)
		if err != nil {
			return nil, err
		}
		problems = append(problems, p...)
	}
	problems = append(problems, diffStrings("delete", row.WantDeletes, got.Deletes)...)
	problems = append(problems, diffStrings("event", row.WantEvents, got.Events)...)
	return problems, nil
}
