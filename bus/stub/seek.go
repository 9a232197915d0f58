package stub

import (
	"fmt"
	"io"
	"sort"
)

// Seeking finds where a new or restarted group starts: by offset or by
// time. Sealed segments opened from disk are indexed lazily, by a full scan
// the first time a seek needs them.

// seekOffset returns a cursor at off, clamped to the retained offsets.
func (t *topic) seekOffset(off int64) (cursor, error) { return t.seek(target{off: off}) }

// seekTime returns a cursor at the first record stored at or after ns
// (Unix nanoseconds), or at the end.
func (t *topic) seekTime(ns int64) (cursor, error) { return t.seek(target{byTime: true, ns: ns}) }

// target is what a seek looks for: an offset, or the first record at or
// after a time.
type target struct {
	byTime bool
	off    int64
	ns     int64
}

// found reports whether r is at or past the target.
func (g target) found(r record) bool {
	if g.byTime {
		return r.time >= g.ns
	}
	return r.offset >= g.off
}

// pastIndex reports whether the index entry lies after the target.
func (g target) pastIndex(e indexEntry) bool {
	if g.byTime {
		return e.time >= g.ns
	}
	return e.off > g.off
}

// segment returns the index of the segment to scan for g; t.mu must be
// held. -1 means the target is before the first retained record.
func (g target) segment(segs []*segment) int {
	if g.byTime {
		// Times only grow; an empty active segment counts as later.
		return sort.Search(len(segs), func(i int) bool {
			ft := segs[i].firstTime
			return ft == 0 || ft >= g.ns
		}) - 1
	}
	if g.off <= segs[0].base {
		return -1
	}
	return sort.Search(len(segs), func(i int) bool { return segs[i].base > g.off }) - 1
}

// seek returns a cursor at the first retained record at or past g, or at
// the end of the log.
func (t *topic) seek(g target) (cursor, error) {
	for {
		t.mu.RLock()
		if t.closeErr != nil {
			t.mu.RUnlock()
			return cursor{}, t.closeErr
		}
		i := g.segment(t.segs)
		if i < 0 {
			c := cursor{seg: t.segs[0], off: t.segs[0].base}
			t.mu.RUnlock()
			return c, nil
		}
		seg := t.segs[i]
		loaded, size := seg.loaded, seg.size
		from := indexEntry{off: seg.base}
		if j := sort.Search(len(seg.index), func(j int) bool { return g.pastIndex(seg.index[j]) }); j > 0 {
			from = seg.index[j-1]
		}
		t.mu.RUnlock()
		if !loaded {
			if err := t.load(seg); err != nil {
				return cursor{}, err
			}
			continue
		}
		c, ok, err := scanFor(seg, from, size, g.found)
		if err != nil {
			if t.isDeleted(seg) {
				continue
			}
			return cursor{}, err
		}
		if ok {
			return c, nil
		}
		// Not in this segment: the next one's start, or the end.
		t.mu.RLock()
		if seg.deleted {
			t.mu.RUnlock()
			continue
		}
		if k := t.segIndex(seg); k == len(t.segs)-1 {
			if seg.size != size { // grew while we scanned
				t.mu.RUnlock()
				continue
			}
			c = cursor{seg: seg, pos: seg.size, off: seg.next}
		} else {
			c = cursor{seg: t.segs[k+1], off: t.segs[k+1].base}
		}
		t.mu.RUnlock()
		return c, nil
	}
}

// scanFor reads seg from an index entry up to size for the first record
// that found accepts.
func scanFor(seg *segment, from indexEntry, size int64, found func(record) bool) (cursor, bool, error) {
	rr := recordReader{st: seg.st, pos: from.pos, end: size, chunk: readChunk}
	for {
		rec, pos, err := rr.next()
		if err == io.EOF {
			return cursor{}, false, nil
		}
		if err != nil {
			return cursor{}, false, err
		}
		if found(rec) {
			return cursor{seg: seg, pos: pos, off: rec.offset}, true, nil
		}
	}
}

func (t *topic) isDeleted(seg *segment) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return seg.deleted
}

// load scans a sealed segment to build its index, once.
func (t *topic) load(seg *segment) error {
	seg.loadMu.Lock()
	defer seg.loadMu.Unlock()
	t.mu.RLock()
	loaded, deleted, size := seg.loaded, seg.deleted, seg.size
	t.mu.RUnlock()
	if loaded || deleted {
		return nil
	}
	res, err := scanSegment(seg.st, seg.base, size)
	t.mu.Lock()
	defer t.mu.Unlock()
	if seg.deleted {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stub: topic %s: loading %s: %w", t.name, segmentName(seg.base), err)
	}
	if res.bad != nil {
		t.log.Error("stub: sealed segment is damaged; events after the damage are lost",
			"segment", segmentName(seg.base), "reason", res.bad, "lost_from_offset", res.next)
	}
	seg.size, seg.index, seg.lastTime, seg.loaded = res.valid, res.index, res.lastTime, true
	if res.firstTime != 0 {
		seg.firstTime = res.firstTime
	}
	return nil
}
