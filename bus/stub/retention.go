package stub

import (
	"time"
)

// Retention deletes whole sealed segments, oldest first, while the topic is
// over Config.RetentionBytes or the segment's newest event is older than
// Config.RetentionAge. Retention wins over consumer groups, as in Kafka: a
// group that has not read a deleted segment skips its events (and the bus
// logs how many). Events a group has already read but not yet acknowledged
// are held in memory and still delivered. The active segment is never
// deleted.

// applyRetention deletes the segments retention no longer keeps.
func (t *topic) applyRetention(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closeErr != nil {
		return
	}
	var total int64
	for _, s := range t.segs {
		total += s.size
	}
	cutoff := now.Add(-t.cfg.RetentionAge).UnixNano()
	for len(t.segs) > 1 {
		s := t.segs[0]
		overSize := t.cfg.RetentionBytes >= 0 && total > t.cfg.RetentionBytes
		// Times only grow, so the next segment's first time bounds this
		// segment's newest.
		newest := t.segs[1].firstTime
		if newest == 0 {
			newest = s.lastTime
		}
		tooOld := t.cfg.RetentionAge >= 0 && newest != 0 && newest < cutoff
		if !overSize && !tooOld {
			return
		}
		s.deleted = true
		if err := s.st.Remove(); err != nil {
			t.log.Error("stub: deleting a segment", "segment", segmentName(s.base), "err", err)
		}
		total -= s.size
		t.segs[0] = nil
		t.segs = t.segs[1:]
	}
}
