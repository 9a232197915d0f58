package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/eddyplatform/eddy/control/store"
)

type opKind int

const (
	opCreate opKind = iota
	opUpdate
	opUpdateStatus
	opDelete
)

// op is one write waiting for the writer.
type op struct {
	ctx  context.Context
	kind opKind
	res  store.Resource
	obj  *unstructured.Unstructured // the normalised input (Create, Update, UpdateStatus)
	// Delete's target and preconditions.
	namespace, name string
	pre             store.DeleteOptions

	// Set by the writer before done is closed.
	out  *unstructured.Unstructured // the object as stored (shared with watchers: read-only)
	err  error
	done chan struct{}
}

// write hands o to the writer and waits for its answer. obj, when given, is copied first,
// so the caller's object is never touched.
func (s *Store) write(ctx context.Context, o *op, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if o.kind != opDelete {
		var err error
		if o.obj, err = normalize(obj); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the object can't be stored: %v", err))
		}
	}
	o.ctx, o.done = ctx, make(chan struct{})
	select {
	case s.ops <- o:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.quit:
		return nil, errClosed()
	}
	<-o.done // the writer always answers an op it took
	if o.err != nil {
		return nil, o.err
	}
	return o.out.DeepCopy(), nil
}

// errNothingToCommit rolls back a batch in which no operation changed anything.
var errNothingToCommit = errors.New("nothing to commit")

// writeLoop is the single writer: it applies waiting operations in batches, one
// transaction each, until the store closes. rev is the last committed revision.
func (s *Store) writeLoop(rev uint64) {
	defer close(s.writerDone)
	batch := make([]*op, 0, s.opts.maxBatch)
	for {
		select {
		case o := <-s.ops:
			batch = append(batch[:0], o)
		case <-s.quit:
			return
		}
	more: // everything else already waiting joins this transaction
		for len(batch) < s.opts.maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			default:
				break more
			}
		}
		rev = s.commit(batch, rev)
		clear(batch) // don't keep objects alive until the next batch
	}
}

// commit applies batch in one transaction, publishes its events and answers the callers.
// It returns the last committed revision.
func (s *Store) commit(batch []*op, rev uint64) uint64 {
	events := make([]*event, 0, len(batch))
	next := rev
	err := s.update(func(tx *bbolt.Tx) error {
		for _, o := range batch {
			if err := o.ctx.Err(); err != nil {
				o.err = err // given up on before it was applied
				continue
			}
			ev, err := apply(tx, o, next+1)
			switch {
			case err != nil:
				o.err = err
			case ev != nil:
				next++
				events = append(events, ev)
			}
		}
		if next == rev {
			return errNothingToCommit
		}
		return writeRevision(tx, next)
	})
	switch {
	case err == nil:
		s.commits.Add(1)
		s.writes.Add(uint64(len(events)))
		s.hub.publish(events)
		rev = next
	case errors.Is(err, errNothingToCommit):
	default:
		err = apierrors.NewInternalError(fmt.Errorf("committing to the store: %w", err))
		for _, o := range batch {
			o.out, o.err = nil, err
		}
	}
	for _, o := range batch {
		close(o.done)
	}
	return rev
}

// update runs fn in a read-write transaction, turning a panic into an error so that one
// bad batch can't stop the writer (bbolt rolls the transaction back).
func (s *Store) update(fn func(*bbolt.Tx) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while writing: %v", r)
		}
	}()
	return s.db.Update(fn)
}
