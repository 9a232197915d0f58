package stub

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// A topic's log is a list of segments. Each holds the records from its base
// offset on, in a store named by that base; only the last (active) segment
// is written to. A segment's index is sparse: one entry every indexInterval
// bytes, enough to seek by offset or time with a short scan.
const (
	indexInterval = 4096
	segmentSuffix = ".log"
	readChunk     = 64 << 10
	scanChunk     = 1 << 20
)

// indexEntry locates the record with offset off at byte pos, stored at time.
type indexEntry struct {
	off, pos, time int64
}

// segment is one store of a topic's log. The fields after st are guarded by
// the topic's mu; the writer also reads them without it, being the only one
// that changes them while the segment is active.
type segment struct {
	base int64
	st   store

	next      int64        // offset after the last visible record
	size      int64        // bytes of visible records
	firstTime int64        // time of the first record, 0 if none
	lastTime  int64        // time of the last record, 0 if unknown
	index     []indexEntry // complete once loaded
	loaded    bool         // index, lastTime and size verified by a scan
	deleted   bool         // removed by retention or topic deletion

	loadMu sync.Mutex // serialises loading
}

func segmentName(base int64) string { return fmt.Sprintf("%020d%s", base, segmentSuffix) }

// parseSegmentName returns the base offset of a segment file name.
func parseSegmentName(name string) (int64, bool) {
	s, ok := strings.CutSuffix(name, segmentSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

func segmentPath(dir string, base int64) string { return filepath.Join(dir, segmentName(base)) }

// recordReader reads records in sequence from a store.
type recordReader struct {
	st     store
	pos    int64 // store position of buf[r]
	end    int64 // no record may extend past end
	buf    []byte
	r      int  // next unread byte of buf
	chunk  int  // bytes to read at a time
	fresh  bool // never reuse buf: returned records may be kept
	offset int64
}

// next returns the next record and its position, io.EOF at end, or
// errShortRecord if a record runs past end, or errCorruptRecord.
func (rr *recordReader) next() (record, int64, error) {
	for {
		if rr.pos >= rr.end {
			return record{}, rr.pos, io.EOF
		}
		rec, n, err := decodeRecord(rr.buf[rr.r:], maxBody)
		if err == nil {
			pos := rr.pos
			rr.r += n
			rr.pos += int64(n)
			return rec, pos, nil
		}
		if !errors.Is(err, errShortRecord) {
			return record{}, rr.pos, err
		}
		need := frameHeaderLen
		if have := rr.buf[rr.r:]; len(have) >= frameHeaderLen {
			need += int(uint32(have[0]) | uint32(have[1])<<8 | uint32(have[2])<<16 | uint32(have[3])<<24)
		}
		if rr.pos+int64(need) > rr.end {
			return record{}, rr.pos, errShortRecord
		}
		if err := rr.fill(need); err != nil {
			return record{}, rr.pos, err
		}
	}
}

// fill reads so that at least need bytes from pos are buffered.
func (rr *recordReader) fill(need int) error {
	want := int(min(int64(max(need, rr.chunk)), rr.end-rr.pos))
	rest := rr.buf[rr.r:]
	var nb []byte
	if !rr.fresh && cap(rr.buf) >= want {
		nb = rr.buf[:want]
		copy(nb, rest)
	} else {
		nb = make([]byte, want)
		copy(nb, rest)
	}
	got := len(rest)
	n, err := rr.st.ReadAt(nb[got:want], rr.pos+int64(got))
	if n < want-got {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("stub: reading segment: %w", err)
	}
	rr.buf, rr.r = nb, 0
	return nil
}

// scanResult is what a full scan of a segment found.
type scanResult struct {
	valid     int64 // bytes of valid records from the start
	next      int64 // offset after the last valid record
	firstTime int64
	lastTime  int64
	index     []indexEntry
	bad       error // why the scan stopped before the end, nil if it did not
}

// scanSegment reads a segment's records from the start up to size, checking
// frames, checksums and that offsets count up from base. It stops at the
// first bad record; a read error is returned as such.
func scanSegment(st store, base, size int64) (scanResult, error) {
	res := scanResult{next: base}
	rr := recordReader{st: st, end: size, chunk: scanChunk}
	lastIndexed := int64(-indexInterval)
	for {
		rec, pos, err := rr.next()
		switch {
		case err == io.EOF:
			return res, nil
		case errors.Is(err, errShortRecord):
			res.bad = fmt.Errorf("torn record at byte %d", pos)
			return res, nil
		case errors.Is(err, errCorruptRecord):
			res.bad = fmt.Errorf("corrupt record at byte %d", pos)
			return res, nil
		case err != nil:
			return res, err
		}
		if rec.offset != res.next || rec.time < res.lastTime {
			res.bad = fmt.Errorf("record at byte %d has offset %d time %d, want offset %d time >= %d",
				pos, rec.offset, rec.time, res.next, res.lastTime)
			return res, nil
		}
		if pos-lastIndexed >= indexInterval {
			res.index = append(res.index, indexEntry{off: rec.offset, pos: pos, time: rec.time})
			lastIndexed = pos
		}
		if res.firstTime == 0 {
			res.firstTime = rec.time
		}
		res.lastTime = rec.time
		res.next = rec.offset + 1
		res.valid = rr.pos
	}
}

// firstRecordTime reads the time of a store's first record, 0 if it has
// none or it cannot be read.
func firstRecordTime(st store, size int64) int64 {
	rr := recordReader{st: st, end: size, chunk: 4096}
	rec, _, err := rr.next()
	if err != nil {
		return 0
	}
	return rec.time
}
