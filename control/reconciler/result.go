package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reconciler drives one object towards the state its spec asks for. See the package
// documentation for the level-triggered model and what the returned error means.
//
// Reconcile is called with the object's "namespace/name" key ("name" for cluster-scoped
// kinds) and a context that is cancelled when the controller stops; it should return soon
// after. The object may no longer exist: then Reconcile cleans up whatever it must (usually
// nothing, when owned objects carry owner references) and returns nil. Reconcile is called
// from several goroutines at once, but never for the same key concurrently.
type Reconciler interface {
	Reconcile(ctx context.Context, key string) error
}

// Func adapts a function to the Reconciler interface.
type Func func(ctx context.Context, key string) error

// Reconcile calls f(ctx, key).
func (f Func) Reconcile(ctx context.Context, key string) error { return f(ctx, key) }

// requeueAfter is the error RequeueAfter returns.
type requeueAfter struct{ after time.Duration }

// Error says when the key is looked at again.
func (r *requeueAfter) Error() string { return fmt.Sprintf("requeue after %s", r.after) }

// RequeueAfter returns an error that tells the controller the reconcile went as it should
// but the key must be looked at again after d: the key's failure history is forgotten, the
// key is enqueued again after d, and nothing is logged as an error.
func RequeueAfter(d time.Duration) error { return &requeueAfter{after: d} }

// IsRequeueAfter reports whether err is (or wraps) a RequeueAfter error, and its delay.
func IsRequeueAfter(err error) (time.Duration, bool) {
	var r *requeueAfter
	if errors.As(err, &r) {
		return r.after, true
	}
	return 0, false
}

// permanent is the error Permanent returns.
type permanent struct{ err error }

// Error returns the wrapped error's message.
func (p *permanent) Error() string { return p.err.Error() }

// Unwrap returns the wrapped error.
func (p *permanent) Unwrap() error { return p.err }

// Permanent wraps err to say that retrying will not help (the object's spec is wrong, an
// outside system refused for good): the controller logs and counts it, and does not retry.
// The object is reconciled again when it, or something it watches, changes. Permanent(nil)
// is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err: err}
}

// IsPermanent reports whether err is (or wraps) a Permanent error.
func IsPermanent(err error) bool {
	var p *permanent
	return errors.As(err, &p)
}
