// Package ping is the adapter of PingSource (sources.knative.dev/v1): it emits an event on a
// cron schedule.
//
// # Schedule
//
// Config.Schedule is a standard five-field cron expression (minute, hour, day of month, month,
// day of week), parsed by github.com/robfig/cron/v3, which Knative's ping adapter uses too; the
// descriptors it knows (@hourly, @daily, @every 90s, ...) work as well. The zone of the
// schedule is Config.Timezone (an IANA name such as "Europe/Berlin"), or a "CRON_TZ=Zone "
// prefix of the schedule (not both); with neither it is UTC, whatever the host's zone. The
// IANA database is compiled in (time/tzdata), so zones work on hosts without one.
//
// Across daylight-saving changes the schedule follows wall-clock time in its zone, as
// robfig/cron computes it: a tick at a wall time that does not exist that day (02:30 when
// clocks jump from 02:00 to 03:00) is skipped that day, and a tick in the repeated hour when
// clocks go back (01:30 when 02:00 becomes 01:00 again) fires twice, an hour apart, each with
// its own time.
//
// # Events
//
// Each tick emits one event with type dev.knative.sources.ping, source
// /apis/v1/namespaces/<namespace>/pingsources/<name>, a fresh UUID as id, and as time the
// tick's scheduled time (not the moment it was sent). Config.Data is the event data as text;
// Config.DataBase64 is decoded and sent as binary data. Config.ContentType, when set, is the
// datacontenttype. The Sender applies ceOverrides and the delivery policy; each tick is sent
// in its own goroutine, so a slow sink never delays the schedule.
//
// # Missed ticks
//
// The adapter sleeps until the next tick by the wall clock, checking the clock at least once
// a minute, so a jump of the clock or a suspended machine is noticed. When it wakes to find
// that several ticks have passed (the process was paused, the machine slept, the clock was
// set forward), it does not fire them all: it emits one event, for the latest tick that has
// passed, with that tick's time, logs the earliest one it skipped, and goes on with the next
// tick in the future. This is how the cron runner in Knative's adapter behaves (one run per
// overdue entry, never a burst). Ticks before Run started are never emitted.
//
// # Metrics
//
// With Config.Registerer set, the adapter counts eddy_pingsource_events_received_total (ticks),
// eddy_pingsource_events_sent_total (accepted by the sink) and
// eddy_pingsource_events_failed_total (Send gave up), labelled with the source's namespace
// and name. The series are removed when Run returns.
package ping
