package bus

import (
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// MaxNameLen is the longest topic or group name.
const MaxNameLen = 200

// ValidateName checks a topic or group name: 1 to MaxNameLen characters
// from [A-Za-z0-9._-], the first a letter or a digit. kind ("topic",
// "group") names the thing in the error, which wraps ErrInvalidName.
func ValidateName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty %s name", ErrInvalidName, kind)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %s name longer than %d characters", ErrInvalidName, kind, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && (c == '.' || c == '_' || c == '-') {
			continue
		}
		return fmt.Errorf("%w: %s name %q: character %q at %d not allowed (want [A-Za-z0-9._-], first a letter or digit)",
			ErrInvalidName, kind, name, c, i)
	}
	return nil
}

// PartitionKeyExtension is the CloudEvents extension attribute whose value
// orders events (see the package documentation, Ordering). It is defined by
// the CloudEvents partitioning extension.
const PartitionKeyExtension = "partitionkey"

// PartitionKey returns the event's partition key in its canonical string
// form, or "" if it has none.
func PartitionKey(e *event.Event) string {
	if e == nil || e.Context == nil {
		return ""
	}
	var v any
	var ok bool
	switch c := e.Context.(type) { // without the copy Extensions makes
	case *event.EventContextV1:
		v, ok = c.Extensions[PartitionKeyExtension]
	case *event.EventContextV03:
		v, ok = c.Extensions[PartitionKeyExtension]
	default:
		v, ok = e.Extensions()[PartitionKeyExtension]
	}
	if !ok {
		return ""
	}
	s, err := types.Format(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}
