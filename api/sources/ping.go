package sources

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"
	_ "time/tzdata" // time zones validate the same on every host, with or without a tz database
	"unicode/utf8"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// DefaultPingSchedule is the schedule of a PingSource that sets none: every minute.
const DefaultPingSchedule = "* * * * *"

// PingSourceEventType is the CloudEvents type of a PingSource's events.
const PingSourceEventType = "dev.knative.sources.ping"

// PingSourceSource returns the CloudEvents source of the events of PingSource namespace/name.
func PingSourceSource(namespace, name string) string {
	return sourcePath(namespace, "pingsources", name)
}

// PingSource sends an event with a fixed payload on a cron schedule.
type PingSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PingSourceSpec   `json:"spec,omitempty"`
	Status            PingSourceStatus `json:"status,omitempty"`
}

// PingSourceSpec is the desired state of a PingSource.
type PingSourceSpec struct {
	// SourceSpec holds the sink and the CloudEvents overrides.
	duck.SourceSpec `json:",inline"`
	// Schedule is a standard five-field cron schedule, or a descriptor such as @hourly
	// (@every is not accepted), optionally prefixed by CRON_TZ=<zone> or TZ=<zone>. Defaults
	// to "* * * * *".
	Schedule string `json:"schedule,omitempty"`
	// Timezone is the IANA time zone the schedule is read in; the system's when empty. It
	// excludes a CRON_TZ= prefix in the schedule.
	Timezone string `json:"timezone,omitempty"`
	// ContentType is the media type of the data.
	ContentType string `json:"contentType,omitempty"`
	// Data is the event's data, as text. It excludes DataBase64.
	Data string `json:"data,omitempty"`
	// DataBase64 is the event's data, base64-encoded (standard encoding, padded).
	DataBase64 string `json:"dataBase64,omitempty"`
}

// PingSourceStatus is the observed state of a PingSource.
type PingSourceStatus struct {
	duck.SourceStatus `json:",inline"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *PingSource) GetStatus() *api.Status { return &s.Status.Status }

// CloudEventAttributes returns the type and source of the events sent, for status.ceAttributes.
func (s *PingSource) CloudEventAttributes() []duck.CloudEventAttributes {
	return []duck.CloudEventAttributes{{Type: PingSourceEventType, Source: PingSourceSource(s.Namespace, s.Name)}}
}

// DataBytes returns the event's data: spec.data as bytes, or spec.dataBase64 decoded.
func (s *PingSourceSpec) DataBytes() ([]byte, error) {
	if s.DataBase64 != "" {
		return base64.StdEncoding.DecodeString(s.DataBase64)
	}
	return []byte(s.Data), nil
}

// SetDefaults sets the schedule to every minute when it is empty, and the sink ref's namespace.
func (s *PingSource) SetDefaults() {
	if s.Spec.Schedule == "" {
		s.Spec.Schedule = DefaultPingSchedule
	}
	s.Spec.SourceSpec.SetDefaults(s.Namespace)
}

// ScheduleError is the error of ParseSchedule; Field is "schedule" or "timezone", the spec
// field at fault.
type ScheduleError struct {
	// Field is the spec field at fault: "schedule" or "timezone".
	Field string
	// Err says what is wrong.
	Err error
}

// Error returns the parser's message.
func (e *ScheduleError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ScheduleError) Unwrap() error { return e.Err }

// ParseSchedule parses a PingSource schedule in a time zone (IANA name, "" for the schedule's
// CRON_TZ= prefix or else time.Local), with github.com/robfig/cron/v3's standard parser as
// Knative does. The @every descriptor is rejected, as in Knative, and so is a schedule that
// names a zone both ways. Errors are *ScheduleError.
func ParseSchedule(schedule, timezone string) (sched cron.Schedule, err error) {
	fail := func(f string, format string, args ...any) (cron.Schedule, error) {
		return nil, &ScheduleError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	spec := schedule
	loc := time.Local
	if timezone != "" {
		if loc, err = time.LoadLocation(timezone); err != nil {
			return fail("timezone", "unknown time zone %q", timezone)
		}
	}
	if zone, rest, ok := cutZonePrefix(spec); ok {
		if timezone != "" {
			return fail("schedule", "set the time zone in spec.timezone or as a CRON_TZ= prefix, not both")
		}
		if zone == "" || rest == "" {
			return fail("schedule", "a CRON_TZ= prefix must be followed by a zone, a space and the schedule")
		}
		if loc, err = time.LoadLocation(zone); err != nil {
			return fail("schedule", "unknown time zone %q", zone)
		}
		if _, _, again := cutZonePrefix(rest); again {
			return fail("schedule", "more than one CRON_TZ= prefix")
		}
		spec = rest
	}
	if strings.Contains(spec, "@every") {
		return fail("schedule", "unsupported descriptor @every")
	}
	defer func() {
		if r := recover(); r != nil { // the parser must not take the caller down
			sched, err = fail("schedule", "unparsable schedule")
		}
	}()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return fail("schedule", "%v", err)
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	return s, nil
}

// cutZonePrefix splits "CRON_TZ=zone rest" or "TZ=zone rest".
func cutZonePrefix(spec string) (zone, rest string, ok bool) {
	var after string
	switch {
	case strings.HasPrefix(spec, "CRON_TZ="):
		after = spec[len("CRON_TZ="):]
	case strings.HasPrefix(spec, "TZ="):
		after = spec[len("TZ="):]
	default:
		return "", "", false
	}
	zone, rest, _ = strings.Cut(after, " ")
	return zone, strings.TrimSpace(rest), true
}

// Validate checks the schedule and time zone (see ParseSchedule), that at most one of data and
// dataBase64 is set, that dataBase64 is base64, that JSON data is JSON when the content type
// says so, the content type itself, the sink and the overrides.
func (s *PingSource) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	if _, err := ParseSchedule(s.Spec.Schedule, s.Spec.Timezone); err != nil {
		var se *ScheduleError
		errors.As(err, &se)
		value := s.Spec.Schedule
		if se.Field == "timezone" {
			value = s.Spec.Timezone
		}
		errs = append(errs, field.Invalid(sp.Child(se.Field), value, se.Error()))
	}
	isJSON := false
	if ct := s.Spec.ContentType; ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			errs = append(errs, field.Invalid(sp.Child("contentType"), ct, "must be a media type, such as application/json"))
		}
		isJSON = mt == "application/json" || strings.HasSuffix(mt, "+json")
	}
	switch {
	case s.Spec.Data != "" && s.Spec.DataBase64 != "":
		errs = append(errs, field.Invalid(sp.Child("dataBase64"), "<"+fmt.Sprint(len(s.Spec.DataBase64))+" bytes>", "set data or dataBase64, not both"))
	case s.Spec.DataBase64 != "":
		data, err := base64.StdEncoding.DecodeString(s.Spec.DataBase64)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(sp.Child("dataBase64"), shorten(s.Spec.DataBase64), "must be standard base64: "+err.Error()))
		case isJSON && !json.Valid(data):
			errs = append(errs, field.Invalid(sp.Child("dataBase64"), shorten(s.Spec.DataBase64), "must decode to JSON: the content type is "+s.Spec.ContentType))
		}
	case s.Spec.Data != "" && isJSON && !json.Valid([]byte(s.Spec.Data)):
		errs = append(errs, field.Invalid(sp.Child("data"), shorten(s.Spec.Data), "must be JSON: the content type is "+s.Spec.ContentType))
	}
	return append(errs, s.Spec.SourceSpec.Validate(sp, s.Namespace)...)
}

// shorten keeps error messages readable when a field holds a large payload.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// The conditions of a PingSource, Knative's names (without OIDCIdentityCreated).
const (
	// PingSourceConditionSinkProvided is True when the sink resolved to a URL.
	PingSourceConditionSinkProvided = duck.SourceConditionSinkProvided
	// PingSourceConditionDeployed is True when the scheduler that sends the events runs.
	PingSourceConditionDeployed api.ConditionType = "Deployed"
)

// PingSourceConditionSet is the condition set of a PingSource: Ready follows SinkProvided and
// Deployed.
var PingSourceConditionSet = api.NewLivingConditionSet(PingSourceConditionSinkProvided, PingSourceConditionDeployed)

func (s *PingSourceStatus) manage() *api.ConditionManager {
	return PingSourceConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *PingSourceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *PingSourceStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkSink records the resolved sink URL (SinkProvided False with reason SinkEmpty when uri
// is empty).
func (s *PingSourceStatus) MarkSink(uri string) {
	markSink(PingSourceConditionSet, &s.SourceStatus, uri)
}

// MarkNoSink records why the sink did not resolve.
func (s *PingSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(PingSourceConditionSet, &s.SourceStatus, reason, format, args...)
}

// MarkDeployed records that the scheduler runs the source.
func (s *PingSourceStatus) MarkDeployed() { s.manage().MarkTrue(PingSourceConditionDeployed) }

// MarkNotDeployed records why the scheduler does not run the source.
func (s *PingSourceStatus) MarkNotDeployed(reason, format string, args ...any) {
	s.manage().MarkFalse(PingSourceConditionDeployed, reason, format, args...)
}
