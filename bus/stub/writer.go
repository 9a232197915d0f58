package stub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Group commit: publishers encode their events into framed records on their
// own goroutines and queue them to the topic's single writer goroutine. The
// writer takes everything queued, stamps offsets, times and checksums,
// appends it all with one write, fsyncs once, makes it visible to readers
// and only then answers the publishers. Many concurrent publishers thus
// share one fsync, and every acknowledged publish is on disk.

// pubReq is one Publish call's records on their way to the writer.
type pubReq struct {
	buf  []byte // framed records, unstamped
	done chan error
}

var reqPool = sync.Pool{New: func() any { return &pubReq{done: make(chan error, 1)} }}

const maxPooledBuf = 1 << 20

// publish encodes events and waits until the writer has stored them.
func (t *topic) publish(ctx context.Context, events []*event.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	req := reqPool.Get().(*pubReq)
	buf := req.buf[:0]
	var err error
	for _, ev := range events {
		if buf, err = appendRecord(buf, ev, t.cfg.MaxEventBytes); err != nil {
			req.buf = buf[:0]
			reqPool.Put(req)
			return err
		}
	}
	req.buf = buf

	t.sendMu.RLock()
	if t.sendClosed {
		t.sendMu.RUnlock()
		reqPool.Put(req)
		return t.closedErr()
	}
	select {
	case t.reqs <- req:
		t.sendMu.RUnlock()
	case <-ctx.Done():
		t.sendMu.RUnlock()
		reqPool.Put(req)
		return ctx.Err()
	}
	select {
	case err = <-req.done:
		if cap(req.buf) <= maxPooledBuf {
			reqPool.Put(req)
		}
		return err
	case <-ctx.Done():
		// The writer still owns req; it will store the events or fail.
		return ctx.Err()
	}
}

// start starts the writer goroutine.
func (t *topic) start() { go t.runWriter() }

// stopWriter refuses new publishes, waits for the queued ones to be stored
// and stops the writer.
func (t *topic) stopWriter() {
	t.sendMu.Lock()
	if !t.sendClosed {
		t.sendClosed = true
		close(t.reqs)
	}
	t.sendMu.Unlock()
	<-t.writerDone
}

func (t *topic) runWriter() {
	defer close(t.writerDone)
	var (
		batch  []*pubReq
		wbuf   []byte
		linger *time.Timer
		sizes  batchSizes
	)
	delay := t.cfg.GroupCommitDelay
	if t.cfg.InMemory {
		delay = 0 // no fsync to share
	}
	for req := range t.reqs {
		batch = append(batch[:0], req)
		n := len(req.buf)
		// Publishers arriving together: wait a little for as many as recent batches held.
		target := sizes.max()
		var wait <-chan time.Time
	gather:
		for n < t.cfg.MaxBatchBytes {
			select {
			case r, ok := <-t.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				n += len(r.buf)
				continue
			default:
			}
			if delay <= 0 || len(batch) >= target {
				break
			}
			if wait == nil {
				if linger == nil {
					linger = time.NewTimer(delay)
				} else {
					linger.Reset(delay)
				}
				wait = linger.C
			}
			select {
			case r, ok := <-t.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				n += len(r.buf)
			case <-wait:
				wait = nil
				target = 0
			}
		}
		if wait != nil && !linger.Stop() {
			<-linger.C
		}
		sizes.add(len(batch))
		var err error
		wbuf, err = t.writeBatch(batch, wbuf[:0])
		for i, r := range batch {
			r.done <- err
			batch[i] = nil
		}
		if cap(wbuf) > 4*t.cfg.MaxBatchBytes {
			wbuf = nil
		}
	}
}

// batchSizes remembers the sizes of the last batches, so that the writer can wait for as many
// concurrent publishers as it recently saw, and no longer (a lone publisher never waits).
type batchSizes struct {
	ring [32]int
	next int
}

func (b *batchSizes) add(n int) {
	b.ring[b.next] = n
	b.next = (b.next + 1) % len(b.ring)
}

func (b *batchSizes) max() int {
	m := 0
	for _, n := range b.ring {
		m = max(m, n)
	}
	return m
}

// writeBatch stores the batch's records in the active segment, rolling it
// first if full, and makes them visible.
func (t *topic) writeBatch(batch []*pubReq, wbuf []byte) ([]byte, error) {
	if t.failed != nil {
		return wbuf, t.failed
	}
	size := 0
	for _, r := range batch {
		size += len(r.buf)
	}
	t.mu.RLock()
	seg := t.segs[len(t.segs)-1] // only the writer adds segments
	t.mu.RUnlock()
	if seg.size > 0 && seg.size+int64(size) > t.cfg.SegmentBytes {
		var err error
		if seg, err = t.roll(); err != nil {
			t.failed = fmt.Errorf("stub: topic %s: starting a segment: %w", t.name, err)
			t.log.Error("stub: log write failed; publishes to this topic fail until the bus is reopened", "err", err)
			return wbuf, t.failed
		}
	}
	now := max(time.Now().UnixNano(), t.lastTime)
	off, pos := seg.next, seg.size
	var index []indexEntry
	lastIndexed := int64(-indexInterval)
	if n := len(seg.index); n > 0 {
		lastIndexed = seg.index[n-1].pos
	}
	for _, r := range batch {
		for p := 0; p < len(r.buf); {
			if pos-lastIndexed >= indexInterval {
				index = append(index, indexEntry{off: off, pos: pos, time: now})
				lastIndexed = pos
			}
			n := stampRecord(r.buf[p:], off, now)
			p += n
			pos += int64(n)
			off++
		}
		wbuf = append(wbuf, r.buf...)
	}
	_, err := seg.st.WriteAt(wbuf, seg.size)
	if err == nil {
		err = seg.st.Sync()
	}
	if err != nil {
		// After a failed fsync the file's state is unknown: stop writing.
		t.failed = fmt.Errorf("stub: topic %s: writing the log: %w", t.name, err)
		t.log.Error("stub: log write failed; publishes to this topic fail until the bus is reopened", "err", err)
		_ = seg.st.Truncate(seg.size)
		return wbuf, t.failed
	}
	t.lastTime = now
	t.mu.Lock()
	seg.size, seg.next = pos, off
	seg.index = append(seg.index, index...)
	if seg.firstTime == 0 {
		seg.firstTime = now
	}
	seg.lastTime = now
	close(t.notify)
	t.notify = make(chan struct{})
	t.mu.Unlock()
	return wbuf, nil
}

// roll seals the active segment and starts a new one, then applies size
// retention.
func (t *topic) roll() (*segment, error) {
	old := t.segs[len(t.segs)-1]
	seg, err := t.newSegment(old.next)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.segs = append(t.segs, seg)
	t.mu.Unlock()
	t.applyRetention(time.Now())
	return seg, nil
}
