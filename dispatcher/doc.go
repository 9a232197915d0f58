// Package dispatcher is the delivery engine between a bus and subscribers: one consumer group
// per Subscription or Trigger, HTTP delivery of CloudEvents with retry and backoff, dead-letter
// sinks, replies and ordering. Delivery policy lives here once, not in each bus.
package dispatcher
