package apiserver

import (
	"net/http"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// serveLog answers GET …/{plural}/{name}/log with the kind's LogSource, as text.
func (s *Server) serveLog(w http.ResponseWriter, r *http.Request, t target) {
	src := s.cfg.Logs[t.kind.Resource()]
	q := r.URL.Query()
	opts := LogOptions{Instance: q.Get("instance"), Follow: q.Get("follow") == "true"}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeStatus(w, apierrors.NewBadRequest("tailLines must be a non-negative integer"))
			return
		}
		opts.TailLines = n
	}
	if _, err := s.cfg.Store.Get(r.Context(), t.kind.Resource(), t.namespace, t.name); err != nil {
		writeStatus(w, err)
		return
	}
	fw := &flushWriter{w: w}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := src(r.Context(), fw, t.namespace, t.name, opts); err != nil && !fw.wrote {
		writeStatus(w, err)
	}
}

// flushWriter flushes after every write, so that followed logs arrive as they are written.
type flushWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	wrote bool
}

func (f *flushWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wrote = true
	n, err := f.w.Write(p)
	http.NewResponseController(f.w).Flush()
	return n, err
}
