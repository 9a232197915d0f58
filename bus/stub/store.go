package stub

import (
	"io"
	"os"
	"sync"
)

// store holds the bytes of one segment: a file, or memory in InMemory mode.
// Reads and writes at different positions may run concurrently.
type store interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes written bytes durable.
	Sync() error
	// Truncate cuts the store to size bytes.
	Truncate(size int64) error
	// Size returns the stored length.
	Size() (int64, error)
	// Remove closes the store and deletes its bytes.
	Remove() error
	// Close releases the store, keeping its bytes.
	Close() error
}

// fileStore is a segment file.
type fileStore struct {
	f *os.File
}

func openFileStore(path string, create bool) (*fileStore, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, err
	}
	return &fileStore{f: f}, nil
}

func (s *fileStore) ReadAt(p []byte, off int64) (int, error)  { return s.f.ReadAt(p, off) }
func (s *fileStore) WriteAt(p []byte, off int64) (int, error) { return s.f.WriteAt(p, off) }
func (s *fileStore) Sync() error                              { return s.f.Sync() }
func (s *fileStore) Truncate(size int64) error                { return s.f.Truncate(size) }
func (s *fileStore) Close() error                             { return s.f.Close() }

func (s *fileStore) Size() (int64, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (s *fileStore) Remove() error {
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// memStore is a segment held in memory, in chunks of up to memChunk bytes
// so that growing never copies more than one chunk.
type memStore struct {
	mu     sync.RWMutex
	chunks [][]byte // all full (memChunk long) but the last
	size   int64
}

const memChunk = 1 << 20

func (s *memStore) ReadAt(p []byte, off int64) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for n < len(p) && off < s.size {
		c := s.chunks[off/memChunk]
		k := copy(p[n:], c[off%memChunk:])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *memStore) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for off > s.size { // a gap reads as zeros
		s.append(make([]byte, min(off-s.size, memChunk)))
	}
	n := 0
	for n < len(p) && off < s.size { // overwrite
		c := s.chunks[off/memChunk]
		k := copy(c[off%memChunk:], p[n:])
		n += k
		off += int64(k)
	}
	s.append(p[n:])
	return len(p), nil
}

// append adds p at the end; s.mu must be held.
func (s *memStore) append(p []byte) {
	for len(p) > 0 {
		if len(s.chunks) == 0 || len(s.chunks[len(s.chunks)-1]) == memChunk {
			s.chunks = append(s.chunks, make([]byte, 0, min(memChunk, max(4096, 2*len(p)))))
		}
		last := &s.chunks[len(s.chunks)-1]
		k := min(len(p), memChunk-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
		s.size += int64(k)
	}
}

func (s *memStore) Sync() error { return nil }

func (s *memStore) Truncate(size int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if size >= s.size {
		return nil
	}
	keep := int((size + memChunk - 1) / memChunk)
	clear(s.chunks[keep:])
	s.chunks = s.chunks[:keep]
	if keep > 0 {
		s.chunks[keep-1] = s.chunks[keep-1][:size-int64(keep-1)*memChunk]
	}
	s.size = size
	return nil
}

func (s *memStore) Size() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.size, nil
}

func (s *memStore) Remove() error {
	s.mu.Lock()
	s.chunks, s.size = nil, 0
	s.mu.Unlock()
	return nil
}

func (s *memStore) Close() error { return nil }
