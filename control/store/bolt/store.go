package bolt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

// FileName is the name of the database file inside the directory given to Open.
const FileName = "store.db"

var _ store.Store = (*Store)(nil)

// Store is a store.Store kept in a bbolt file. Create it with Open; it is safe for
// concurrent use.
type Store struct {
	db   *bbolt.DB
	opts options
	hub  *hub

	ops        chan *op      // to the writer; unbuffered, so an op is either taken or not
	quit       chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer has returned
	closeOnce  sync.Once
	closed     atomic.Bool

	commits atomic.Uint64 // committed transactions that changed something
	writes  atomic.Uint64 // changes committed
}

// Option changes a Store's settings; pass them to Open.
type Option func(*options)

type options struct {
	history     int
	watchBuffer int
	maxBatch    int
	lockTimeout time.Duration
}

// WithHistory sets how many events the store keeps in memory to serve watches from a past
// resourceVersion (default 10000). A Watch from a version older than that fails with
// Expired. n <= 0 keeps none: only watches from the current version (or later) succeed.
func WithHistory(n int) Option {
	return func(o *options) { o.history = max(n, 0) }
}

// WithWatchBuffer sets how many events may wait for one watcher (default 1024). A watcher
// whose consumer lets more pile up is ended, rather than slowing writers down.
func WithWatchBuffer(n int) Option {
	return func(o *options) { o.watchBuffer = max(n, 1) }
}

// WithMaxBatch caps how many writes share one transaction (default 256).
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = max(n, 1) }
}

// WithLockTimeout sets how long Open waits for another process to release the file
// (default 5s) before it fails.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// Open opens (creating it if needed) the store kept in dir/store.db. Only one Store, in
// one process, can have a directory open at a time.
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{history: 10000, watchBuffer: 1024, maxBatch: 256, lockTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		// Fail rather than hang when another process has the file; commit faster by not
		// writing the freelist (it is rebuilt on open); remap less often (a remap waits
		// for readers).
		Timeout:         max(o.lockTimeout, time.Millisecond),
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: 64 << 20,
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, fmt.Errorf("opening %s: another process has it open", path)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	var rev uint64
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		rev, err = decodeRevision(b.Get(revisionKey))
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		opts:       o,
		hub:        newHub(rev, o.history, o.watchBuffer),
		ops:        make(chan *op),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go s.writeLoop(rev)
	return s, nil
}

// Close stops the writer, ends every watch and closes the file. Calls made after Close
// fail with ServiceUnavailable; closing again does nothing.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		<-s.writerDone
		s.hub.close()
		err = s.db.Close()
	})
	return err
}

// Get returns the object, or a NotFound error.
func (s *Store) Get(ctx context.Context, res store.Resource, namespace, name string) (*unstructured.Unstructured, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var obj *unstructured.Unstructured
	err := s.view(func(tx *bbolt.Tx) error {
		var data []byte
		if b := tx.Bucket(bucketName(res)); b != nil {
			data = b.Get(key(namespace, name))
		}
		if data == nil {
			return apierrors.NewNotFound(res, name)
		}
		var err error
		obj, err = decode(data)
		return err
	})
	return obj, err
}

// List returns the matching objects sorted by namespace and name, with the revision they
// were read at as the list's resourceVersion.
func (s *Store) List(ctx context.Context, res store.Resource, namespace string, opts store.ListOptions) (*unstructured.UnstructuredList, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	var (
		rev  uint64
		objs []*unstructured.Unstructured
	)
	err := s.view(func(tx *bbolt.Tx) (err error) {
		rev, objs, err = scan(tx, res, namespace, opts.LabelSelector)
		return err
	})
	if err != nil {
		return nil, err
	}
	list := &unstructured.UnstructuredList{Items: make([]unstructured.Unstructured, len(objs))}
	for i, o := range objs {
		list.Items[i] = *o
	}
	list.SetResourceVersion(formatRevision(rev))
	return list, nil
}

// Watch streams changes to the matching objects from opts.ResourceVersion on; see the
// store package doc. It fails with Expired when that version is older than the history.
func (s *Store) Watch(ctx context.Context, res store.Resource, namespace string, opts store.ListOptions) (watch.Interface, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	w := newWatcher(s.hub, res, namespace, opts.LabelSelector)
	var replay []*event
	var initial []*unstructured.Unstructured
	switch rv := opts.ResourceVersion; rv {
	case "", "0":
		// The snapshot's read transaction begins under the hub's lock, so its revision is
		// at or past every published event: the live stream starts exactly after it.
		var tx *bbolt.Tx
		var err error
		replay, err = s.hub.subscribe(w, func() (uint64, error) {
			var err error
			if tx, err = s.db.Begin(false); err != nil {
				return 0, s.dbError(err)
			}
			return readRevision(tx)
		})
		if err != nil {
			if tx != nil {
				tx.Rollback()
			}
			return nil, err
		}
		_, initial, err = scan(tx, res, namespace, opts.LabelSelector)
		tx.Rollback()
		if err != nil {
			w.Stop()
			return nil, err
		}
	default:
		from, err := strconv.ParseUint(rv, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
		replay, err = s.hub.subscribe(w, func() (uint64, error) { return from, nil })
		if err != nil {
			return nil, err
		}
	}
	w.start(ctx, initial, replay)
	return w, nil
}

// Create stores a new object and returns it as stored.
func (s *Store) Create(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return s.write(ctx, &op{kind: opCreate, res: res}, obj)
}

// Update replaces an object's metadata and spec (keeping its status) and returns it as
// stored.
func (s *Store) Update(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return s.write(ctx, &op{kind: opUpdate, res: res}, obj)
}

// UpdateStatus replaces an object's status and returns it as stored.
func (s *Store) UpdateStatus(ctx context.Context, res store.Resource, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return s.write(ctx, &op{kind: opUpdateStatus, res: res}, obj)
}

// Delete removes an object, or only sets its deletionTimestamp when it has finalizers,
// and returns its last state (carrying the deletion's resourceVersion).
func (s *Store) Delete(ctx context.Context, res store.Resource, namespace, name string, opts store.DeleteOptions) (*unstructured.Unstructured, error) {
	return s.write(ctx, &op{kind: opDelete, res: res, namespace: namespace, name: name, pre: opts}, nil)
}

// usable reports why a call can't proceed: the store is closed or ctx is done.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed()
	}
	return ctx.Err()
}

// view runs fn in a read transaction.
func (s *Store) view(fn func(*bbolt.Tx) error) error {
	return s.dbError(s.db.View(fn))
}

// dbError turns bbolt's errors into API errors; errors that already are pass through.
func (s *Store) dbError(err error) error {
	var status apierrors.APIStatus
	switch {
	case err == nil || errors.As(err, &status):
		return err
	case errors.Is(err, bbolt.ErrDatabaseNotOpen):
		return errClosed()
	default:
		return apierrors.NewInternalError(err)
	}
}

func errClosed() error { return apierrors.NewServiceUnavailable("the store is closed") }

// scan reads the revision and the matching objects of one resource, sorted by namespace
// and name.
func scan(tx *bbolt.Tx, res store.Resource, namespace string, sel labels.Selector) (uint64, []*unstructured.Unstructured, error) {
	rev, err := readRevision(tx)
	if err != nil {
		return 0, nil, err
	}
	b := tx.Bucket(bucketName(res))
	if b == nil {
		return rev, nil, nil
	}
	if sel != nil && sel.Empty() {
		sel = nil
	}
	var prefix []byte
	if namespace != "" {
		prefix = []byte(namespace + "/")
	}
	var objs []*unstructured.Unstructured
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && hasPrefix(k, prefix); k, v = c.Next() {
		obj, err := decode(v)
		if err != nil {
			return 0, nil, err
		}
		if sel != nil && !sel.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		objs = append(objs, obj)
	}
	if namespace == "" {
		// Key order puts "a-b/x" before "a/x" ('-' < '/'); the contract wants "a" first.
		slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
			return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
		})
	}
	return rev, objs, nil
}

func hasPrefix(k, prefix []byte) bool {
	return len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}
