package kafka

import (
	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/v2/event"
)

// fifo is a first-in first-out queue.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) push(v T) { q.items = append(q.items, v) }

func (q *fifo[T]) len() int { return len(q.items) - q.head }

// front returns the oldest item; the queue must not be empty.
func (q *fifo[T]) front() T { return q.items[q.head] }

func (q *fifo[T]) pop() (T, bool) {
	var zero T
	if q.len() == 0 {
		return zero, false
	}
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head > 1024 && 2*q.head > len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v, true
}

// each calls fn for every item, oldest first.
func (q *fifo[T]) each(fn func(T)) {
	for _, v := range q.items[q.head:] {
		fn(v)
	}
}

// record is one Kafka record a member read from a partition it owns, from
// when it is read until the partition's committed offset passes it.
type record struct {
	p        *partState
	offset   int64
	key      string       // partition key, for ordered groups
	ev       *event.Event // nil for a record that is skipped
	attempts int          // deliveries the member received (or that the notes of a previous owner count)
	acked    bool         // acknowledged, or skipped
	queued   bool         // in one of the member's queues
	cur      *delivery    // the delivery held for or out to the member, if any
}

// partState is a member's hold on one partition for one group session.
// Its fields are guarded by the member's mutex.
type partState struct {
	m         *member
	partition int32
	sess      sarama.ConsumerGroupSession

	window fifo[*record] // from the oldest unacknowledged record to the newest read
	read   bool          // whether any record was read; next is valid then
	next   int64         // offset after the newest record read
	marked int64         // offset last marked for commit
	prior  *notes        // the previous owner's notes, if they match the committed offset

	keys map[string]*fifo[*record] // ordered groups: busy keys and the records waiting behind them

	out     int  // deliveries held for or out to the member, unsettled
	revoked bool // the partition is going: nothing more is delivered or redelivered
	final   bool // the last commit was made: nothing more is marked

	room    chan struct{} // signalled when the window shrinks
	drained chan struct{} // signalled when out falls to 0 after revoked
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// advance drops acknowledged records from the front of the window and
// marks the new committed offset: the oldest record not acknowledged, or
// the next to read.
func (p *partState) advance() {
	popped := false
	for p.window.len() > 0 && p.window.front().acked {
		p.window.pop()
		popped = true
	}
	if popped {
		signal(p.room)
	}
	if p.final || !p.read {
		return
	}
	commit := p.commitOffset()
	if commit > p.marked {
		p.sess.MarkOffset(p.m.kt, p.partition, commit, "")
		p.marked = commit
	}
}

func (p *partState) commitOffset() int64 {
	if p.window.len() > 0 {
		return p.window.front().offset
	}
	return p.next
}

// handover returns the offset to commit when the member lets the
// partition go, with notes for the next owner about the records after it.
func (p *partState) handover() (int64, string) {
	commit := p.commitOffset()
	n := newNotes(commit)
	p.window.each(func(r *record) {
		switch {
		case r.acked:
			n.acked[r.offset] = true
		case r.attempts > 0:
			n.attempts[r.offset] = r.attempts
		}
	})
	if p.prior != nil { // what the previous owner knew of records not read yet
		for o := range p.prior.acked {
			if o >= p.next {
				n.acked[o] = true
			}
		}
		for o, a := range p.prior.attempts {
			if o >= p.next {
				n.attempts[o] = a
			}
		}
	}
	return commit, n.encode()
}
