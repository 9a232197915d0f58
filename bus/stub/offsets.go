package stub

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// A group's committed offset (its oldest unacknowledged event) lives in
// <topic>/groups/<group>: two 32-byte slots, written alternately, each
//
//	seq uint64 | offset int64 | crc uint32 (CRC-32C of the first 16 bytes) | zero padding
//
// The valid slot with the higher seq wins, so a torn write leaves the
// previous value. The file is fsynced when the group is created and when the
// bus closes; updates in between are not, since a stale offset only means
// more redelivered duplicates after a crash.

const (
	groupsDir      = "groups"
	offsetSlotSize = 32
)

// offsetFile persists one group's committed offset.
type offsetFile struct {
	f   *os.File
	seq uint64
}

// createOffsetFile durably creates a group's file holding off.
func createOffsetFile(topicDir, group string, off int64) (*offsetFile, error) {
	dir := filepath.Join(topicDir, groupsDir)
	f, err := os.OpenFile(filepath.Join(dir, group), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	o := &offsetFile{f: f}
	if err := o.write(off); err != nil {
		f.Close()
		return nil, err
	}
	if err := o.sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// openOffsetFile opens a group's file and returns its committed offset.
func openOffsetFile(path string) (*offsetFile, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, 0, err
	}
	var buf [2 * offsetSlotSize]byte
	n, _ := f.ReadAt(buf[:], 0)
	best, off, found := uint64(0), int64(0), false
	for i := 0; i+offsetSlotSize <= n; i += offsetSlotSize {
		seq, o, ok := decodeOffsetSlot(buf[i : i+offsetSlotSize])
		if ok && (!found || seq > best) {
			best, off, found = seq, o, true
		}
	}
	if !found {
		f.Close()
		return nil, 0, fmt.Errorf("stub: group file %s: %w", path, errors.New("no valid offset"))
	}
	return &offsetFile{f: f, seq: best}, off, nil
}

func decodeOffsetSlot(b []byte) (seq uint64, off int64, ok bool) {
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	seq, off = binary.LittleEndian.Uint64(b), int64(binary.LittleEndian.Uint64(b[8:]))
	return seq, off, seq > 0 && off >= 0
}

// write stores off in the slot not holding the current value.
func (o *offsetFile) write(off int64) error {
	o.seq++
	var b [offsetSlotSize]byte
	binary.LittleEndian.PutUint64(b[0:], o.seq)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	_, err := o.f.WriteAt(b[:], int64(o.seq%2)*offsetSlotSize)
	return err
}

func (o *offsetFile) sync() error { return o.f.Sync() }

func (o *offsetFile) close() error { return o.f.Close() }

// remove closes and deletes the file.
func (o *offsetFile) remove() error {
	o.f.Close()
	return os.Remove(o.f.Name())
}
