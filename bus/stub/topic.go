package stub

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/eddyplatform/eddy/bus"
)

// topic is one topic's log, its writer and its groups.
type topic struct {
	name string
	dir  string // "" in memory
	cfg  *Config
	log  *slog.Logger

	mu       sync.RWMutex
	segs     []*segment    // oldest first; the last is active
	notify   chan struct{} // closed and replaced when records become visible
	closeErr error         // set when the topic closes: bus.ErrClosed or bus.ErrTopicNotFound

	// Writer side (writer.go).
	sendMu     sync.RWMutex
	sendClosed bool
	reqs       chan *pubReq
	writerDone chan struct{}
	failed     error // a write or sync failed: the log refuses further writes
	lastTime   int64 // time given to the last batch

	groupsMu sync.Mutex
	groups   map[string]*group
}

func newTopic(name, dir string, cfg *Config) *topic {
	return &topic{
		name:       name,
		dir:        dir,
		cfg:        cfg,
		log:        cfg.Logger.With("topic", name),
		notify:     make(chan struct{}),
		reqs:       make(chan *pubReq, 1024),
		writerDone: make(chan struct{}),
		groups:     make(map[string]*group),
	}
}

// createTopic makes a new, empty topic.
func createTopic(name, dir string, cfg *Config) (*topic, error) {
	t := newTopic(name, dir, cfg)
	if dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, groupsDir), 0o755); err != nil {
			return nil, err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	seg, err := t.newSegment(0)
	if err != nil {
		return nil, err
	}
	t.segs = []*segment{seg}
	t.start()
	return t, nil
}

// openTopic opens a topic stored in dir, repairing a torn tail.
func openTopic(name, dir string, cfg *Config) (*topic, error) {
	t := newTopic(name, dir, cfg)
	if err := os.MkdirAll(filepath.Join(dir, groupsDir), 0o755); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range ents {
		if b, ok := parseSegmentName(e.Name()); ok && e.Type().IsRegular() {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	if err := t.openSegments(bases); err != nil {
		t.closeStores()
		return nil, err
	}
	if err := t.openGroups(); err != nil {
		t.closeStores()
		return nil, err
	}
	t.start()
	return t, nil
}

func (t *topic) openSegments(bases []int64) error {
	if len(bases) == 0 {
		seg, err := t.newSegment(0)
		if err != nil {
			return err
		}
		t.segs = []*segment{seg}
		return nil
	}
	for i, base := range bases {
		st, err := openFileStore(segmentPath(t.dir, base), false)
		if err != nil {
			return err
		}
		seg := &segment{base: base, st: st}
		t.segs = append(t.segs, seg)
		if seg.size, err = st.Size(); err != nil {
			return err
		}
		if i < len(bases)-1 {
			seg.next = bases[i+1]
			seg.firstTime = firstRecordTime(st, seg.size)
			continue
		}
		if err := t.recoverActive(seg); err != nil {
			return err
		}
	}
	return nil
}

// recoverActive scans the active segment and cuts off a torn or corrupt
// tail, so that it is never served and new records follow valid ones.
func (t *topic) recoverActive(seg *segment) error {
	res, err := scanSegment(seg.st, seg.base, seg.size)
	if err != nil {
		return fmt.Errorf("stub: topic %s: scanning %s: %w", t.name, segmentName(seg.base), err)
	}
	if res.bad != nil {
		t.log.Warn("stub: truncating the log's tail", "segment", segmentName(seg.base),
			"reason", res.bad, "from_bytes", seg.size, "to_bytes", res.valid)
		if err := seg.st.Truncate(res.valid); err != nil {
			return err
		}
		if err := seg.st.Sync(); err != nil {
			return err
		}
	}
	seg.size, seg.next = res.valid, res.next
	seg.firstTime, seg.lastTime, seg.index = res.firstTime, res.lastTime, res.index
	seg.loaded = true
	t.lastTime = res.lastTime
	return nil
}

// newSegment creates an empty segment at base.
func (t *topic) newSegment(base int64) (*segment, error) {
	seg := &segment{base: base, next: base, loaded: true}
	if t.dir == "" {
		seg.st = &memStore{}
		return seg, nil
	}
	st, err := openFileStore(segmentPath(t.dir, base), true)
	if err != nil {
		return nil, err
	}
	if err := syncDir(t.dir); err != nil {
		st.Close()
		return nil, err
	}
	seg.st = st
	return seg, nil
}

// startOffset is the oldest retained offset; t.mu must be held.
func (t *topic) startOffset() int64 { return t.segs[0].base }

// endOffset is the offset the next record will get; t.mu must be held.
func (t *topic) endOffset() int64 { return t.segs[len(t.segs)-1].next }

// cursor is a reader's place in a topic's log.
type cursor struct {
	seg *segment
	pos int64 // byte position in seg
	off int64 // offset of the record at pos
}

// read returns up to max records from c onwards and advances c. When c is
// at the end it returns no records and a channel closed when there may be
// more. The records' bytes are freshly allocated and may be kept.
func (t *topic) read(c *cursor, max int) ([]record, <-chan struct{}, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closeErr != nil {
		return nil, nil, t.closeErr
	}
	if c.seg == nil || c.seg.deleted {
		first := t.segs[0]
		if c.seg != nil {
			t.log.Warn("stub: retention deleted events a group had not read", "from", c.off, "to", first.base)
		}
		*c = cursor{seg: first, off: first.base}
	}
	for {
		for c.pos >= c.seg.size {
			i := t.segIndex(c.seg)
			if i == len(t.segs)-1 {
				return nil, t.notify, nil
			}
			nxt := t.segs[i+1]
			*c = cursor{seg: nxt, off: nxt.base}
		}
		recs, err := t.readSegment(c, max)
		if len(recs) > 0 || err != nil {
			return recs, nil, err
		}
		// Nothing but skipped or damaged records: go on after them.
	}
}

// readSegment reads up to max records from c within c's segment; t.mu must
// be held.
func (t *topic) readSegment(c *cursor, max int) ([]record, error) {
	rr := recordReader{st: c.seg.st, pos: c.pos, end: c.seg.size, chunk: readChunk, fresh: true}
	var recs []record
	for len(recs) < max {
		rec, _, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, errShortRecord) && !errors.Is(err, errCorruptRecord) {
				return recs, err
			}
			// Visible bytes were checked when written or loaded: this is
			// damage since. Skip to the end of what is visible.
			t.log.Error("stub: skipping damaged records", "segment", segmentName(c.seg.base), "byte", rr.pos, "err", err)
			c.pos = c.seg.size
			break
		}
		c.pos = rr.pos
		if rec.offset < c.off {
			continue // already read; only after damage
		}
		recs = append(recs, rec)
		c.off = rec.offset + 1
	}
	return recs, nil
}

// segIndex returns the index of seg in t.segs; t.mu must be held.
func (t *topic) segIndex(seg *segment) int {
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].base >= seg.base })
	if i < len(t.segs) && t.segs[i] == seg {
		return i
	}
	return len(t.segs) - 1
}

// closeStores closes every segment's store.
func (t *topic) closeStores() {
	for _, s := range t.segs {
		s.st.Close()
	}
}

// syncDir makes a directory's entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// closedErr returns why the topic closed, nil if it is open.
func (t *topic) closedErr() error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.closeErr
}

// errFor is the error for using a topic that closed for reason.
func errFor(reason error) error {
	if reason == nil {
		return bus.ErrClosed
	}
	return reason
}
