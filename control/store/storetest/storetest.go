// Package storetest is the conformance suite for store.Store implementations: every clause
// of the contract in the store package doc has a subtest that a store breaking it fails.
//
// An implementation's tests call Run with a function that opens a fresh, empty store, and,
// when the store is durable, RunRestart with a function that opens the store kept in a
// directory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) },
//			storetest.WithHistory(func(t *testing.T, n int) store.Store { … keeps n events … }))
//	}
//
//	func TestRestart(t *testing.T) { storetest.RunRestart(t, open) }
//
// The suite owns the stores it is given: it closes each one when its subtest ends (the
// constructors must not), so a store's Close is called at most once. Objects are
// unstructured objects of two test resources: widgets (namespaced) and gadgets
// (cluster-scoped, namespace ""), in the group test.eddy.dev. Subtests run in parallel,
// each with its own store. The suite synchronises with channels and polling, never with
// sleeps; every wait gives up after a generous timeout.
package storetest

import (
	"sync"
	"testing"

	"github.com/eddyplatform/eddy/control/store"
)

// Option configures Run.
type Option func(*config)

// WithHistory gives Run a way to open a fresh store that keeps only about n events of watch
// history (at least n, fewer than 10n), so the suite can check that a Watch from an older
// resourceVersion fails with Expired. Without it that subtest is skipped.
func WithHistory(newStore func(t *testing.T, n int) store.Store) Option {
	return func(c *config) { c.withHistory = newStore }
}

type config struct {
	newStore    func(t *testing.T) store.Store
	withHistory func(t *testing.T, n int) store.Store
}

// open returns a fresh store that is closed when t ends.
func (c *config) open(t *testing.T) store.Store {
	t.Helper()
	return owned(t, c.newStore(t))
}

// owned makes sure st is closed once, when t ends or when the test closes it first.
func owned(t *testing.T, st store.Store) store.Store {
	t.Helper()
	if st == nil {
		t.Fatal("the store constructor returned nil")
	}
	o := &onceClosed{Store: st}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

type onceClosed struct {
	store.Store
	once sync.Once
	err  error
}

func (o *onceClosed) Close() error {
	o.once.Do(func() { o.err = o.Store.Close() })
	return o.err
}

// Run runs the conformance suite; newStore must return a new, empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	c := &config{newStore: newStore}
	for _, o := range opts {
		o(c)
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *config)
	}{
		// Objects and metadata.
		{"Create", testCreate},
		{"CreateAlreadyExists", testCreateAlreadyExists},
		{"GenerateName", testGenerateName},
		{"NotFound", testNotFound},
		{"ClusterScoped", testClusterScoped},
		{"List", testList},
		{"ListLabelSelector", testListLabelSelector},
		{"ReturnedObjectsArePrivate", testReturnedObjectsArePrivate},
		{"Update", testUpdate},
		{"Generation", testGeneration},
		{"NoOpUpdate", testNoOpUpdate},
		{"UpdateKeepsStatus", testUpdateKeepsStatus},
		{"UpdateStatus", testUpdateStatus},
		{"ImmutableMetadata", testImmutableMetadata},
		{"Delete", testDelete},
		{"DeletePreconditions", testDeletePreconditions},
		{"Finalizers", testFinalizers},
		{"ResourceVersionsIncrease", testResourceVersionsIncrease},
		// Watches.
		{"WatchFromEmpty", testWatchFromEmpty},
		{"WatchFromList", testWatchFromList},
		{"WatchFromListRacingWriters", testWatchFromListRacingWriters},
		{"WatchFromEmptyRacingWriters", testWatchFromEmptyRacingWriters},
		{"WatchOrder", testWatchOrder},
		{"WatchFilters", testWatchFilters},
		{"WatchExpired", testWatchExpired},
		{"WatchEnds", testWatchEnds},
		{"WatchCloseEndsWatches", testCloseEndsWatches},
		{"SlowWatcherDoesNotBlockWriters", testSlowWatcher},
		// Concurrency.
		{"ConcurrentCreateSameName", testConcurrentCreateSameName},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, c)
		})
	}
}
