// Package display is Eddy's built-in event display: a sink that prints every CloudEvent it
// receives, as Knative's event_display sample does, and keeps the latest ones for
// `GET /display/{name}`. The quickstart's Triggers deliver to it, so a newcomer sees events
// flow without deploying anything.
//
//	POST /display/{name}   receive an event (any CloudEvents HTTP mode); 202
//	GET  /display/{name}   the kept events of that display, oldest first, as a JSON array
package display

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Prefix is the path prefix the display serves.
const Prefix = "/display/"

// Display is the event display handler. It is safe for concurrent use.
type Display struct {
	out  io.Writer
	keep int

	mu     sync.Mutex
	events map[string][]event.Event
}

// New returns a display that prints to out (nil: print nothing) and keeps the latest keep
// events of each display name.
func New(out io.Writer, keep int) *Display {
	return &Display{out: out, keep: keep, events: map[string][]event.Event{}}
}

// ServeHTTP implements http.Handler.
func (d *Display) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.Trim(strings.TrimPrefix(r.URL.Path, Prefix), "/")
	if name == "" || strings.Contains(name, "/") {
		http.Error(w, "use /display/{name}", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet:
		d.mu.Lock()
		evs := append([]event.Event(nil), d.events[name]...)
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if evs == nil {
			evs = []event.Event{}
		}
		json.NewEncoder(w).Encode(evs)
	case http.MethodPost:
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
			return
		}
		d.mu.Lock()
		kept := append(d.events[name], *ev)
		if len(kept) > d.keep {
			kept = kept[len(kept)-d.keep:]
		}
		d.events[name] = kept
		if d.out != nil {
			fmt.Fprintf(d.out, "☁️  display %q received a CloudEvent\n%s\n", name, ev.String())
		}
		d.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "use GET or POST", http.StatusMethodNotAllowed)
	}
}
