package serving

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/serving/runtime"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// RevisionLogs is the API's log source for revisions: the output of the revision's instances,
// each line prefixed with its instance's ID (`eddy logs revision/NAME`).
func (s *Serving) RevisionLogs(ctx context.Context, w io.Writer, namespace, name string, opts apiserver.LogOptions) error {
	key := runtime.RevisionKey{Namespace: namespace, Name: name}
	sent := map[string]int{} // lines of each instance already written, by count of lines seen
	last := map[string]string{}
	for {
		insts := s.cfg.Runtime.Instances(key)
		if opts.Instance != "" {
			found := false
			for _, in := range insts {
				if in.ID == opts.Instance {
					insts, found = []runtime.Instance{in}, true
					break
				}
			}
			if !found && len(sent) == 0 {
				return apierrors.NewNotFound(schema.GroupResource{Group: "serving.knative.dev", Resource: "revisions/log"},
					fmt.Sprintf("%s/%s instance %s", namespace, name, opts.Instance))
			}
		}
		for _, in := range insts {
			lines, err := s.cfg.Runtime.Logs(key, in.ID, 0)
			if err != nil {
				continue
			}
			from := 0
			if _, seen := sent[in.ID]; seen {
				from = resume(lines, last[in.ID])
			} else if opts.TailLines > 0 && len(lines) > opts.TailLines {
				from = len(lines) - opts.TailLines
			}
			for _, l := range lines[from:] {
				if _, err := fmt.Fprintf(w, "[%s] %s\n", in.ID, l); err != nil {
					return nil
				}
			}
			sent[in.ID] += len(lines) - from
			if len(lines) > 0 {
				last[in.ID] = lines[len(lines)-1]
			}
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.cfg.Runtime.Changed():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// resume returns the index after the last occurrence of the line last written, or 0 if it
// scrolled out of the kept lines.
func resume(lines []string, last string) int {
	for i := len(lines) - 1; i >= 0; i-- {
		if lines[i] == last {
			return i + 1
		}
	}
	return 0
}
