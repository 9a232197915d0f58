package bolt

import (
	"context"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/eddyplatform/eddy/control/store"
)

// event is one committed change. It is shared by the history and every watcher, so
// nothing may modify it (or its object) once published.
type event struct {
	typ        watch.EventType
	res        store.Resource
	rev        uint64
	namespace  string
	obj        *unstructured.Unstructured
	labels     labels.Set
	prevLabels labels.Set // Modified and Deleted: the labels before the change
}

func newEvent(typ watch.EventType, res store.Resource, rev uint64, obj *unstructured.Unstructured, prevLabels map[string]string) *event {
	return &event{
		typ: typ, res: res, rev: rev, namespace: obj.GetNamespace(), obj: obj,
		labels: obj.GetLabels(), prevLabels: prevLabels,
	}
}

// hub fans committed events out to watchers and keeps the recent ones for watches that
// start in the past.
type hub struct {
	mu       sync.Mutex
	ring     []*event // the last len(ring) events, oldest at head, in revision order
	head, n  int
	floor    uint64 // every event after this revision is in the ring (or yet to come)
	rev      uint64 // the last published revision
	watchers map[store.Resource]map[*watcher]struct{}
	buffer   int
	closed   bool
}

func newHub(rev uint64, history, buffer int) *hub {
	return &hub{
		ring:     make([]*event, history),
		floor:    rev,
		rev:      rev,
		watchers: map[store.Resource]map[*watcher]struct{}{},
		buffer:   buffer,
	}
}

// subscribe registers w to receive the events after the revision from returns; from
// runs under the hub's lock, so no event is published in between. It returns the
// history to replay before the live events, or Expired when that history is gone.
func (h *hub) subscribe(w *watcher, from func() (uint64, error)) ([]*event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed()
	}
	rev, err := from()
	if err != nil {
		return nil, err
	}
	if rev < h.floor {
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, h.floor+1))
	}
	var replay []*event
	if rev < h.rev {
		// The ring is sorted by revision: find the first event after rev.
		first := sort.Search(h.n, func(i int) bool { return h.at(i).rev > rev })
		for i := first; i < h.n; i++ {
			if ev := h.at(i); ev.res == w.res {
				replay = append(replay, ev)
			}
		}
	}
	w.from = rev
	m := h.watchers[w.res]
	if m == nil {
		m = map[*watcher]struct{}{}
		h.watchers[w.res] = m
	}
	m[w] = struct{}{}
	return replay, nil
}

// at returns the i-th oldest event of the ring.
func (h *hub) at(i int) *event { return h.ring[(h.head+i)%len(h.ring)] }

// publish records events (in revision order) and queues them for their watchers. It
// never blocks: a watcher whose queue is full is cut off.
func (h *hub) publish(events []*event) {
	if len(events) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		h.remember(ev)
		for w := range h.watchers[ev.res] {
			typ, ok := w.match(ev)
			if !ok {
				continue
			}
			select {
			case w.in <- delivery{typ: typ, ev: ev}:
			default:
				h.dropLocked(w) // too far behind
			}
		}
	}
}

func (h *hub) remember(ev *event) {
	h.rev = ev.rev
	switch {
	case len(h.ring) == 0:
		h.floor = ev.rev
	case h.n < len(h.ring):
		h.ring[(h.head+h.n)%len(h.ring)] = ev
		h.n++
	default:
		h.floor = h.ring[h.head].rev
		h.ring[h.head] = ev
		h.head = (h.head + 1) % len(h.ring)
	}
}

// remove unregisters w, if it still is registered.
func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(w)
}

// dropLocked unregisters w and closes its queue: its goroutine delivers what is queued,
// then ends.
func (h *hub) dropLocked(w *watcher) {
	m := h.watchers[w.res]
	if _, ok := m[w]; !ok {
		return
	}
	delete(m, w)
	if len(m) == 0 {
		delete(h.watchers, w.res)
	}
	close(w.in)
}

// close ends every watch; later subscriptions fail.
func (h *hub) close() {
	h.mu.Lock()
	var all []*watcher
	for _, m := range h.watchers {
		for w := range m {
			all = append(all, w)
		}
	}
	h.closed = true
	h.mu.Unlock()
	for _, w := range all {
		w.Stop()
	}
}

// delivery is an event as one watcher sees it (its type may differ, see match).
type delivery struct {
	typ watch.EventType
	ev  *event
}

// watcher is one Watch: a queue filled by the hub and a goroutine that turns it into the
// result channel.
type watcher struct {
	hub       *hub
	res       store.Resource
	namespace string
	sel       labels.Selector // nil: everything
	from      uint64          // set by subscribe: deliver only later revisions

	in       chan delivery
	result   chan watch.Event
	done     chan struct{} // closed by Stop
	stopOnce sync.Once
}

func newWatcher(h *hub, res store.Resource, namespace string, sel labels.Selector) *watcher {
	if sel != nil && sel.Empty() {
		sel = nil
	}
	return &watcher{
		hub: h, res: res, namespace: namespace, sel: sel,
		in:     make(chan delivery, h.buffer),
		result: make(chan watch.Event, 64),
		done:   make(chan struct{}),
	}
}

// ResultChan returns the events; it is closed when the watch ends.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// Stop ends the watch; the result channel closes soon after.
func (w *watcher) Stop() {
	w.stopOnce.Do(func() {
		w.hub.remove(w)
		close(w.done)
	})
}

// match decides whether w sees ev, and as what: with a label selector, an object that
// starts matching is Added and one that stops matching is Deleted, and the deletion of
// an object that matched before its last change is seen too.
func (w *watcher) match(ev *event) (watch.EventType, bool) {
	if w.namespace != "" && ev.namespace != w.namespace {
		return "", false
	}
	if w.sel == nil {
		return ev.typ, true
	}
	now := w.sel.Matches(ev.labels)
	switch ev.typ {
	case watch.Added:
		return ev.typ, now
	case watch.Deleted:
		return ev.typ, now || w.sel.Matches(ev.prevLabels)
	}
	switch before := w.sel.Matches(ev.prevLabels); {
	case now && before:
		return watch.Modified, true
	case now:
		return watch.Added, true
	case before:
		return watch.Deleted, true
	}
	return "", false
}

// start runs the watcher's goroutine: initial objects as Added, then the replayed
// history, then live events, until Stop (which ctx's end calls too) or the queue closes.
func (w *watcher) start(ctx context.Context, initial []*unstructured.Unstructured, replay []*event) {
	stopOnCtx := context.AfterFunc(ctx, w.Stop)
	go w.run(stopOnCtx, initial, replay)
}

func (w *watcher) run(stopOnCtx func() bool, initial []*unstructured.Unstructured, replay []*event) {
	defer close(w.result)
	defer stopOnCtx() // don't leave a callback on a long-lived context
	// The initial objects are private copies already; events are shared and copied.
	for _, obj := range initial {
		if !w.send(watch.Added, obj) {
			return
		}
	}
	for _, ev := range replay {
		if typ, ok := w.match(ev); ok && !w.send(typ, ev.obj.DeepCopy()) {
			return
		}
	}
	for {
		select {
		case d, ok := <-w.in:
			if !ok {
				return
			}
			if d.ev.rev <= w.from {
				continue // committed before the watch's start, published after
			}
			if !w.send(d.typ, d.ev.obj.DeepCopy()) {
				return
			}
		case <-w.done:
			return
		}
	}
}

func (w *watcher) send(typ watch.EventType, obj *unstructured.Unstructured) bool {
	select {
	case w.result <- watch.Event{Type: typ, Object: obj}:
		return true
	case <-w.done:
		return false
	}
}
