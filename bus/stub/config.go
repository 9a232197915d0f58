package stub

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a stub Bus. The zero value of every field but Dir
// means its default; New fills the defaults in and validates the result.
type Config struct {
	// Dir is the directory holding the log; it is created if missing. Only
	// one Bus at a time may open it. Required unless InMemory.
	Dir string

	// InMemory keeps the log in memory: nothing touches the disk and
	// nothing survives Close (Features().Durable is false). Dir is ignored.
	// Retention applies as on disk, so RetentionBytes bounds the memory each
	// topic uses.
	InMemory bool

	// SegmentBytes is the size at which a topic's active segment is sealed
	// and a new one started. Default 64 MiB.
	SegmentBytes int64

	// RetentionBytes caps the bytes each topic keeps; the oldest sealed
	// segments are deleted to stay under it. Default 1 GiB; negative means
	// no cap.
	RetentionBytes int64

	// RetentionAge is how long events are kept: a sealed segment whose
	// newest event is older is deleted. Default 7 days; negative means
	// forever. The active segment is never deleted, so a topic always keeps
	// its latest segment.
	RetentionAge time.Duration

	// RetentionCheckInterval is how often age retention runs. Default 1
	// minute. (Size retention runs whenever a segment is sealed.)
	RetentionCheckInterval time.Duration

	// MaxEventBytes is the largest event, in structured JSON, that Publish
	// accepts. Default 16 MiB.
	MaxEventBytes int

	// AckDeadline is the default SubscribeOptions.AckDeadline. Default 30s.
	AckDeadline time.Duration

	// MaxInFlight is the default SubscribeOptions.MaxInFlight. Default 256.
	MaxInFlight int

	// GroupWindow caps how many events one group holds between its oldest
	// unacknowledged event and the newest event it has read: it bounds a
	// group's memory and how far delivery runs ahead of an event that is
	// not acknowledged. Raised to the sum of the members' MaxInFlight if
	// that is larger. Default 8192.
	GroupWindow int

	// CommitInterval is how often a group's committed offset (its oldest
	// unacknowledged event) is written to disk. After a crash a group
	// resumes from the last offset written, so a longer interval means more
	// redelivered duplicates, never a lost event. Default 200ms.
	CommitInterval time.Duration

	// MaxBatchBytes caps how many bytes the writer gathers from concurrent
	// publishes into one write and fsync. Default 4 MiB.
	MaxBatchBytes int

	// GroupCommitDelay is the longest the writer waits for more publishes
	// to share an fsync: it waits only while its batch holds fewer publishes
	// than the largest of the last 32 batches, so a lone publisher never
	// waits and a full set of concurrent publishers is written at once.
	// Each fsync costs the kernel real CPU, so under load a short wait makes
	// publishing cheaper and, once the CPU is the limit, faster. Default
	// 200µs; negative never waits.
	GroupCommitDelay time.Duration

	// Logger receives reports of corrupt records and failed writes.
	// Default slog.Default().
	Logger *slog.Logger
}

// Options is another name for Config.
type Options = Config

const maxEventLimit = 1 << 30

func (c *Config) setDefaults() {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = 64 << 20
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = 1 << 30
	}
	if c.RetentionAge == 0 {
		c.RetentionAge = 7 * 24 * time.Hour
	}
	if c.RetentionCheckInterval == 0 {
		c.RetentionCheckInterval = time.Minute
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = 16 << 20
	}
	if c.AckDeadline == 0 {
		c.AckDeadline = 30 * time.Second
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 256
	}
	if c.GroupWindow == 0 {
		c.GroupWindow = 8192
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 200 * time.Millisecond
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = 4 << 20
	}
	if c.GroupCommitDelay == 0 {
		c.GroupCommitDelay = 200 * time.Microsecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports what is wrong with the configuration, after defaults.
func (c *Config) Validate() error {
	var errs []error
	if !c.InMemory && c.Dir == "" {
		errs = append(errs, errors.New("Dir is required unless InMemory"))
	}
	if c.SegmentBytes < 4096 {
		errs = append(errs, fmt.Errorf("SegmentBytes %d is below 4096", c.SegmentBytes))
	}
	if c.RetentionCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("RetentionCheckInterval %v is negative", c.RetentionCheckInterval))
	}
	if c.MaxEventBytes < 0 || c.MaxEventBytes > maxEventLimit {
		errs = append(errs, fmt.Errorf("MaxEventBytes %d is outside 1..%d", c.MaxEventBytes, maxEventLimit))
	}
	if c.AckDeadline < 0 {
		errs = append(errs, fmt.Errorf("AckDeadline %v is negative", c.AckDeadline))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight %d is negative", c.MaxInFlight))
	}
	if c.GroupWindow < 0 {
		errs = append(errs, fmt.Errorf("GroupWindow %d is negative", c.GroupWindow))
	}
	if c.CommitInterval < 0 {
		errs = append(errs, fmt.Errorf("CommitInterval %v is negative", c.CommitInterval))
	}
	if c.MaxBatchBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxBatchBytes %d is negative", c.MaxBatchBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stub: invalid config: %w", err)
	}
	return nil
}
