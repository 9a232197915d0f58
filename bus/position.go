package bus

import (
	"fmt"
	"time"
)

// StartKind says which kind of Position a new group starts at.
type StartKind int

const (
	// StartLatest starts after the last event published before the group
	// was created: the group sees only new events. It is the zero value.
	StartLatest StartKind = iota
	// StartEarliest starts at the oldest event the topic still retains.
	StartEarliest
	// StartOffset starts at a given offset (see Offsetter).
	StartOffset
	// StartTime starts at the first event published at or after a time.
	StartTime
)

// Position is where a new consumer group starts reading a topic. Build one
// with Latest, Earliest, AtOffset or AtTime; the zero value is Latest.
type Position struct {
	// Kind selects which of the other fields matter.
	Kind StartKind
	// Offset is the first offset delivered when Kind is StartOffset. An
	// offset older than the topic retains starts at the oldest retained
	// event; one past the newest starts at the newest.
	Offset int64
	// Time is used when Kind is StartTime: the group starts at the first
	// event the bus stored at or after it.
	Time time.Time
}

// Latest returns the position after the newest event: only events published
// after the group is created are delivered.
func Latest() Position { return Position{Kind: StartLatest} }

// Earliest returns the position of the oldest retained event.
func Earliest() Position { return Position{Kind: StartEarliest} }

// AtOffset returns the position of the event at offset.
func AtOffset(offset int64) Position { return Position{Kind: StartOffset, Offset: offset} }

// AtTime returns the position of the first event stored at or after t.
func AtTime(t time.Time) Position { return Position{Kind: StartTime, Time: t} }

// String describes the position, for logs and errors.
func (p Position) String() string {
	switch p.Kind {
	case StartLatest:
		return "latest"
	case StartEarliest:
		return "earliest"
	case StartOffset:
		return fmt.Sprintf("offset %d", p.Offset)
	case StartTime:
		return "time " + p.Time.Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("position kind %d", int(p.Kind))
	}
}
