package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
)

// watchEvent is one line of a watch stream, as Kubernetes writes it.
type watchEvent struct {
	Type   watch.EventType `json:"type"`
	Object any             `json:"object"`
}

// watch streams events as newline-delimited JSON until the client goes away, the optional
// timeoutSeconds pass, or the store ends the watch.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, t target) {
	q := r.URL.Query()
	opts, fsel, err := selectors(q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		writeStatus(w, err)
		return
	}
	opts.ResourceVersion = q.Get("resourceVersion")
	ctx := r.Context()
	if ts := q.Get("timeoutSeconds"); ts != "" {
		n, err := strconv.Atoi(ts)
		if err == nil && n > 0 {
			var cancel func()
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	wi, err := s.cfg.Store.Watch(ctx, t.kind.Resource(), t.namespace, opts)
	if err != nil {
		writeStatus(w, err)
		return
	}
	defer wi.Stop()
	s.metrics.watches.Inc()
	defer s.metrics.watches.Dec()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if u, isObj := ev.Object.(*unstructured.Unstructured); isObj && fsel != nil && !fsel.Matches(objectFields{u}) {
				continue
			}
			if err := enc.Encode(watchEvent{Type: ev.Type, Object: ev.Object}); err != nil {
				return
			}
			// Flush only when nothing else is waiting, so bursts share a write.
			if flusher != nil && len(wi.ResultChan()) == 0 {
				flusher.Flush()
			}
		}
	}
}
