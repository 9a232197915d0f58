// Package stub is Eddy's default bus: an embedded, durable log on the local
// disk, in the process, with nothing to install. It implements bus.Bus and
// passes bus/bustest; an in-memory mode (Config.InMemory) keeps the same
// behaviour without the disk, for tests and for users who accept losing
// events on restart.
//
// # Layout
//
//	<Dir>/LOCK                                  flock held while open
//	<Dir>/topics/<topic>/<base offset>.log      segments, 20-digit names
//	<Dir>/topics/<topic>/groups/<group>         committed offset per group
//
// Each topic is one totally ordered log: offset 0 is its first event, and
// every event after it gets the next offset. The log is a list of append-only
// segment files; the last (active) one is written until it reaches
// Config.SegmentBytes, then a new one starts. Each record is framed with its
// length and a CRC-32C checksum and holds the offset, the time it was stored,
// the partition key and the event in CloudEvents structured JSON.
//
// # Durability
//
// Publish returns only once its events are written and fsynced. One writer
// goroutine per topic gathers concurrent publishes into one write and one
// fsync (group commit), so throughput grows with the number of concurrent
// publishers while each publish still waits for its own fsync. A crash can
// leave a torn record at the end of the active segment; New detects it (by
// length and checksum) and truncates it, so it is never delivered. Such a
// record was never acknowledged.
//
// # Groups
//
// A group delivers every event from its committed offset on and persists the
// committed offset — its oldest unacknowledged event — every
// Config.CommitInterval and on Close. After a restart it resumes from there,
// so events acknowledged after the last persisted offset are delivered again
// (at least once). Ordered groups deliver one event per partition key at a
// time. Each group holds at most Config.GroupWindow events between its
// oldest unacknowledged event and the newest it has read.
//
// # Retention
//
// Whole sealed segments are deleted when a topic exceeds
// Config.RetentionBytes or their events are older than Config.RetentionAge.
// Retention wins over slow groups, as in Kafka: a group skips events deleted
// before it read them (the bus logs it). Replay from an offset or a time
// (bus.AtOffset, bus.AtTime) reaches as far back as retention keeps.
package stub
