// Package bustest is the conformance suite every bus.Bus implementation must
// pass. A backend's tests call Run with a Factory that makes fresh buses;
// cases that need an ability the bus does not declare in its bus.Features
// are skipped, saying which.
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, bustest.Factory{New: func(t *testing.T) (bus.Bus, bustest.Reopen) {
//			dir := t.TempDir()
//			b, err := stub.New(stub.Config{Dir: dir})
//			...
//			return b, func(t *testing.T) bus.Bus { /* stub.New(stub.Config{Dir: dir}) */ }
//		}})
//	}
//
// The suite never sleeps to synchronise: it waits for deliveries with
// timeouts, and waits a short quiet period only to check that nothing more
// arrives.
package bustest

import (
	"testing"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

// Reopen opens again a bus that was closed, over the same stored state.
type Reopen func(t *testing.T) bus.Bus

// Factory makes the buses the suite tests.
type Factory struct {
	// New returns a new, empty bus for one test case, and a Reopen for it
	// (which may be nil unless the bus's Features().Durable). The suite
	// closes every bus it is given. Required.
	New func(t *testing.T) (bus.Bus, Reopen)

	// ManyEvents is how many events the none-lost case publishes and
	// counts. Zero means 100000. Set it lower only for a slow backend, and
	// say why where you do.
	ManyEvents int

	// Timeout bounds each wait for a delivery or for a subscription to end.
	// Zero means 30 seconds.
	Timeout time.Duration

	// Quiet is how long the suite waits to see that no further delivery
	// arrives. Zero means 300 milliseconds.
	Quiet time.Duration
}

// DefaultManyEvents is the size of the none-lost case unless a Factory says
// otherwise.
const DefaultManyEvents = 100_000

// Run runs the conformance suite against the buses f makes.
func Run(t *testing.T, f Factory) {
	if f.New == nil {
		t.Fatal("bustest: Factory.New is required")
	}
	if f.ManyEvents == 0 {
		f.ManyEvents = DefaultManyEvents
	}
	if f.Timeout == 0 {
		f.Timeout = 30 * time.Second
	}
	if f.Quiet == 0 {
		f.Quiet = 300 * time.Millisecond
	}
	s := &suite{f: f}
	cases := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"PublishConsume", testPublishConsume},
		{"Errors", testErrors},
		{"NewGroupStartsAtLatest", testNewGroupStartsAtLatest},
		{"TwoGroupsEachGetEverything", testTwoGroups},
		{"MembersShareTheWork", testMembersShare},
		{"NackRedelivers", testNack},
		{"AckDeadlineRedelivers", testAckDeadline},
		{"PerKeyOrder", testPerKeyOrder},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"SubscriptionClose", testSubscriptionClose},
		{"ContextEndsSubscription", testContextCancel},
		{"DeleteTopic", testDeleteTopic},
		{"ReplayFromOffset", testReplayOffset},
		{"ReplayFromTime", testReplayTime},
		{"RestartDurability", testRestart},
		{"CloseSemantics", testClose},
		{"ManyEventsNoneLost", testManyEvents},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, s) })
	}
}
