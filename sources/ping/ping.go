package ping

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/eddyplatform/eddy/sources"
)

// EventType is the type of every event a PingSource emits.
const EventType = "dev.knative.sources.ping"

// EventSource returns the CloudEvents source of a PingSource's events.
func EventSource(namespace, name string) string {
	return "/apis/v1/namespaces/" + namespace + "/pingsources/" + name
}

// Config configures an Adapter.
type Config struct {
	// Schedule is the cron schedule: five fields, optionally prefixed with "CRON_TZ=Zone ".
	// Required.
	Schedule string
	// Timezone is the IANA zone of Schedule (not together with a CRON_TZ= prefix); default
	// UTC.
	Timezone string
	// ContentType is the datacontenttype of the events; empty means none.
	ContentType string
	// Data is the events' data, as text. At most one of Data and DataBase64.
	Data string
	// DataBase64 is the events' data as base64 (standard alphabet, padded), sent decoded as
	// binary data.
	DataBase64 string

	// Namespace and Name are the PingSource's. Required.
	Namespace, Name string
	// Sender delivers the events. Required.
	Sender sources.Sender
	// Clock tells the time; nil means the wall clock.
	Clock Clock
	// Logger receives the adapter's reports; nil means slog.Default().
	Logger *slog.Logger
	// Registerer receives the adapter's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Adapter emits a PingSource's events. Make one with New and start it with Run.
type Adapter struct {
	cfg      Config
	schedule Schedule
	data     []byte
	binary   bool // data goes as base64 in structured mode
	hasData  bool
	clock    Clock
	log      *slog.Logger
	vecs     *sources.MetricVecs
}

// New checks cfg and returns an Adapter. It starts nothing.
func New(cfg Config) (*Adapter, error) {
	var errs []error
	sched, err := ParseSchedule(cfg.Schedule, cfg.Timezone)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.Namespace == "" || cfg.Name == "" {
		errs = append(errs, errors.New("namespace and name are required"))
	}
	if cfg.Sender == nil {
		errs = append(errs, errors.New("a Sender is required"))
	}
	a := &Adapter{cfg: cfg, schedule: sched, clock: cfg.Clock, log: cfg.Logger}
	switch {
	case cfg.Data != "" && cfg.DataBase64 != "":
		errs = append(errs, errors.New("data and dataBase64 exclude each other"))
	case cfg.DataBase64 != "":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cfg.DataBase64))
		if err != nil {
			errs = append(errs, errors.New("dataBase64 is not valid base64"))
		}
		a.data, a.binary, a.hasData = b, true, true
	case cfg.Data != "":
		a.data, a.hasData = []byte(cfg.Data), true
		// In structured mode JSON data is written as it is; text that is not JSON under a JSON
		// content type (or none, which means JSON) goes as data_base64 instead.
		a.binary = isJSON(cfg.ContentType) && !json.Valid(a.data)
	}
	if ct := strings.TrimSpace(cfg.ContentType); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			errs = append(errs, fmt.Errorf("contentType %q is not a media type", ct))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("ping: invalid config: %w", err)
	}
	if a.clock == nil {
		a.clock = wallClock{}
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("source", "ping", "namespace", cfg.Namespace, "name", cfg.Name)
	if a.vecs, err = sources.NewMetricVecs(cfg.Registerer, "pingsource", sources.MetricHelp{Received: "Ticks of the schedule, each an event to send.", Sent: "Events the sink accepted.", Failed: "Events the Sender gave up on."}); err != nil {
		return nil, err
	}
	return a, nil
}

// isJSON reports whether a content type is JSON, the empty one included (CloudEvents reads
// data without a datacontenttype as JSON).
func isJSON(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// EventTypes describes the one kind of event the source emits.
func (a *Adapter) EventTypes() []sources.EventTypeInfo {
	return []sources.EventTypeInfo{{
		Type:        EventType,
		Source:      EventSource(a.cfg.Namespace, a.cfg.Name),
		Description: "A tick of the PingSource's cron schedule, carrying the source's fixed data.",
	}}
}

// Run emits an event at each tick of the schedule until ctx ends, then waits for the sends in
// progress (their context ends too) and returns nil. It has no fatal errors: a send the
// Sender gives up on is logged and counted, and the next tick comes as planned.
func (a *Adapter) Run(ctx context.Context) error {
	m := a.vecs.Of(a.cfg.Namespace, a.cfg.Name)
	defer a.vecs.Forget(a.cfg.Namespace, a.cfg.Name)
	var wg sync.WaitGroup
	defer wg.Wait()

	next := a.schedule.Next(a.clock.Now())
	a.log.Debug("ping: running", "next", next)
	for {
		if next.IsZero() {
			a.log.Warn("ping: the schedule has no tick in the next five years; idle")
			<-ctx.Done()
			return nil
		}
		wake, stop := a.clock.WakeAt(next)
		select {
		case <-ctx.Done():
			stop()
			return nil
		case <-wake:
			stop()
		}
		now := a.clock.Now()
		if now.Before(next) {
			continue // the clock went back meanwhile
		}
		tick := latestDue(a.schedule, next, now)
		if !tick.Equal(next) {
			a.log.Warn("ping: ticks were missed (paused process or clock jump); emitting only the latest",
				"firstMissed", next, "emitted", tick, "now", now)
		}
		ev := a.event(tick)
		m.Received.Inc()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.cfg.Sender.Send(ctx, ev); err != nil {
				m.Failed.Inc()
				if ctx.Err() == nil {
					a.log.Warn("ping: sending failed", "id", ev.ID(), "tick", tick, "err", err)
				}
				return
			}
			m.Sent.Inc()
		}()
		next = a.schedule.Next(now)
	}
}

// event builds the event of the tick at t.
func (a *Adapter) event(t time.Time) event.Event {
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(uuid.NewString())
	ev.SetType(EventType)
	ev.SetSource(EventSource(a.cfg.Namespace, a.cfg.Name))
	ev.SetTime(t)
	ev.SetDataContentType(a.cfg.ContentType)
	if a.hasData {
		ev.DataEncoded = append([]byte(nil), a.data...)
		ev.DataBase64 = a.binary
	}
	return ev
}
