package ping

import (
	"testing"
	"time"
)

// FuzzParseSchedule: ParseSchedule never panics (robfig/cron alone does on "CRON_TZ=x"), and
// what it accepts yields ticks after the time asked, or none, quickly.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range [][2]string{
		{"*/1 * * * *", "Asia/Kathmandu"}, {"CRON_TZ=Europe/Berlin 0 9 * * 1-5", ""}, {"30 2 * * *", "America/New_York"},
		{"@every 90s", ""}, {"@daily", "UTC"}, {"CRON_TZ=UTC", ""}, {"TZ=", ""}, {"0 0 30 2 *", ""},
		{"1-59/7 0,12 L * MON-FRI", ""}, {"CRON_TZ=../../etc/passwd * * * * *", ""}, {"* * * * ?", "Local"},
	} {
		f.Add(s[0], s[1])
	}
	from := time.Date(2024, 2, 29, 23, 59, 59, 999, time.UTC)
	f.Fuzz(func(t *testing.T, schedule, timezone string) {
		s, err := ParseSchedule(schedule, timezone)
		if err != nil {
			return
		}
		n := s.Next(from)
		if !n.IsZero() && !n.After(from) {
			t.Fatalf("%q/%q: next %s not after %s", schedule, timezone, n, from)
		}
		if !n.IsZero() {
			if l := latestDue(s, n, n.Add(3*time.Hour)); l.Before(n) {
				t.Fatalf("latestDue %s before first tick %s", l, n)
			}
		}
	})
}
