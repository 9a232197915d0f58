package stub

import (
	"sync/atomic"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// delivery implements bus.Delivery, bus.Offsetter and
// bus.DeadlineExtender.
type delivery struct {
	g        *group
	e        *entry
	off      int64
	attempt  int
	ev       *event.Event
	deadline atomic.Int64 // Unix nanoseconds
	settled  atomic.Bool
}

var (
	_ bus.Delivery         = (*delivery)(nil)
	_ bus.Offsetter        = (*delivery)(nil)
	_ bus.DeadlineExtender = (*delivery)(nil)
)

// Event implements bus.Delivery.
func (d *delivery) Event() *event.Event { return d.ev }

// Attempt implements bus.Delivery.
func (d *delivery) Attempt() int { return d.attempt }

// Deadline implements bus.Delivery.
func (d *delivery) Deadline() time.Time { return time.Unix(0, d.deadline.Load()) }

// Offset implements bus.Offsetter.
func (d *delivery) Offset() int64 { return d.off }

// Ack implements bus.Delivery.
func (d *delivery) Ack() error {
	if !d.settled.CompareAndSwap(false, true) {
		return nil
	}
	return d.g.settle(d, true)
}

// Nack implements bus.Delivery.
func (d *delivery) Nack() error {
	if !d.settled.CompareAndSwap(false, true) {
		return nil
	}
	return d.g.settle(d, false)
}

// ExtendDeadline implements bus.DeadlineExtender.
func (d *delivery) ExtendDeadline(dur time.Duration) error {
	if d.settled.Load() {
		return errExpired
	}
	t, err := d.g.extend(d, dur)
	if err == nil {
		d.deadline.Store(t.UnixNano())
	}
	return err
}
