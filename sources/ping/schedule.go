package ping

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones on hosts without a zoneinfo database

	"github.com/robfig/cron/v3"
)

// Schedule computes tick times.
type Schedule interface {
	// Next returns the first tick strictly after t, or the zero time if there is none in the
	// next five years.
	Next(t time.Time) time.Time
}

// parser reads five-field cron expressions and descriptors (@hourly, @every 1h).
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a PingSource schedule and timezone: a standard five-field cron
// expression, optionally prefixed with "CRON_TZ=Zone " (or "TZ=Zone "), and an IANA timezone
// name that must not be given together with such a prefix. Without a zone the schedule runs in
// UTC. The API's validation can call it to check a PingSource.
func ParseSchedule(schedule, timezone string) (Schedule, error) {
	spec := strings.TrimSpace(schedule)
	if spec == "" {
		return nil, errors.New("schedule is empty")
	}
	timezone = strings.TrimSpace(timezone)
	zone, rest, hasZone, err := splitZone(spec)
	if err != nil {
		return nil, err
	}
	if hasZone && timezone != "" {
		return nil, errors.New("schedule has a CRON_TZ= prefix and timezone is set too: give the zone once")
	}
	if !hasZone {
		zone = timezone
	}
	loc := time.UTC
	if zone != "" {
		if zone == "Local" {
			return nil, errors.New(`timezone "Local" is not an IANA zone name`)
		}
		if loc, err = time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("timezone %q is not a known IANA zone", zone)
		}
	}
	if strings.HasPrefix(rest, "TZ=") || strings.HasPrefix(rest, "CRON_TZ=") {
		return nil, errors.New("schedule has more than one zone prefix")
	}
	s, err := parser.Parse(rest)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", rest, err)
	}
	if s, ok := s.(*cron.SpecSchedule); ok {
		s.Location = loc
	}
	return s, nil
}

// splitZone takes a leading "CRON_TZ=Zone " or "TZ=Zone " off spec. robfig/cron parses the
// prefix itself but panics when no space follows it, so the adapter does it.
func splitZone(spec string) (zone, rest string, ok bool, err error) {
	var after string
	switch {
	case strings.HasPrefix(spec, "CRON_TZ="):
		after = spec[len("CRON_TZ="):]
	case strings.HasPrefix(spec, "TZ="):
		after = spec[len("TZ="):]
	default:
		return "", spec, false, nil
	}
	i := strings.IndexAny(after, " \t")
	if i < 0 {
		return "", "", false, errors.New("schedule: CRON_TZ=Zone must be followed by a space and the schedule")
	}
	zone, rest = after[:i], strings.TrimSpace(after[i:])
	if zone == "" {
		return "", "", false, errors.New("schedule: CRON_TZ= names no zone")
	}
	if rest == "" {
		return "", "", false, errors.New("schedule: nothing follows the CRON_TZ= prefix")
	}
	return zone, rest, true, nil
}

// windows are the look-back spans latestDue tries, shortest first, so that finding the latest
// overdue tick after a long pause does not step through every tick of the pause.
var windows = []time.Duration{2 * time.Minute, 2 * time.Hour, 48 * time.Hour, 64 * 24 * time.Hour, 2 * 366 * 24 * time.Hour}

// latestDue returns the latest tick of s at or before now, given first, a tick at or before
// now from which the search may start.
func latestDue(s Schedule, first, now time.Time) time.Time {
	start := first
	for _, w := range windows {
		from := now.Add(-w)
		if !from.After(first) {
			break
		}
		if t := s.Next(from); !t.IsZero() && !t.After(now) {
			start = t
			break
		}
	}
	t := start
	for {
		n := s.Next(t)
		if n.IsZero() || n.After(now) {
			return t
		}
		t = n
	}
}
