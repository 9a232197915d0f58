package controller

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/control/apiserver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var buildLogResource = schema.GroupResource{Group: apibuild.Group, Resource: "builds/log"}

// BuildLogs is the API's log source for builds (`eddy logs build/NAME [-f]`): each step's
// output in step order, each line prefixed with "[STEP] ". opts.Instance picks one step;
// opts.TailLines keeps each step's last lines. With Follow it waits for a build that has not
// started, then writes lines as they come until the build ends or ctx ends. Logs are kept in
// memory by the run: they are gone after an Eddy restart and once KeepFinished newer builds
// finished.
func (s *Builds) BuildLogs(ctx context.Context, w io.Writer, namespace, name string, opts apiserver.LogOptions) error {
	key := namespace + "/" + name
	for {
		s.mu.Lock()
		r := s.runs[key]
		s.mu.Unlock()
		if r != nil {
			return s.runLogs(ctx, w, r, opts)
		}
		var b apibuild.Build
		if err := s.cfg.Client.Get(ctx, namespace, name, &b); err != nil {
			return err
		}
		if b.Status.StartTime != nil || b.Status.IsDone() {
			return apierrors.NewNotFound(buildLogResource, key+" (its logs are no longer kept)")
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Builds) runLogs(ctx context.Context, w io.Writer, r *buildRun, opts apiserver.LogOptions) error {
	steps := r.run.Steps()
	var names []string
	for _, st := range steps {
		if opts.Instance == "" || st.Name == opts.Instance {
			names = append(names, st.Name)
		}
	}
	if len(names) == 0 {
		return apierrors.NewNotFound(buildLogResource, fmt.Sprintf("%s step %s", r.key, opts.Instance))
	}
	for _, n := range names {
		pw := &prefixWriter{w: w, prefix: []byte("[" + n + "] "), start: true}
		if opts.Follow {
			if err := r.run.LogsFollow(ctx, n, opts.TailLines, pw); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			continue
		}
		lines, err := r.run.Logs(n, opts.TailLines)
		if err != nil {
			return apierrors.NewNotFound(buildLogResource, r.key+" (its logs are no longer kept)")
		}
		for _, l := range lines {
			if _, err := fmt.Fprintf(w, "[%s] %s\n", n, l); err != nil {
				return nil
			}
		}
	}
	return nil
}

// prefixWriter writes prefix at the start of every line.
type prefixWriter struct {
	w      io.Writer
	prefix []byte
	start  bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if p.start {
			out = append(out, p.prefix...)
		}
		out = append(out, line...)
		p.start = line[len(line)-1] == '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
