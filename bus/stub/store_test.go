package stub

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// TestMemStore checks the chunked in-memory store against a plain slice.
func TestMemStore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var s memStore
	var want []byte
	for i := 0; i < 300; i++ {
		switch op := r.IntN(10); {
		case op < 6: // append, sometimes across chunks
			p := make([]byte, r.IntN(3*memChunk/2))
			for j := range p {
				p[j] = byte(r.Uint32())
			}
			s.WriteAt(p, int64(len(want)))
			want = append(want, p...)
		case op < 8 && len(want) > 0: // overwrite
			off := r.IntN(len(want))
			p := bytes.Repeat([]byte{byte(i)}, r.IntN(len(want)-off+1))
			s.WriteAt(p, int64(off))
			copy(want[off:], p)
		case op < 9: // truncate
			n := r.IntN(len(want) + 1)
			s.Truncate(int64(n))
			want = want[:n]
		default: // read
			if len(want) == 0 {
				continue
			}
			off := r.IntN(len(want))
			p := make([]byte, r.IntN(len(want)-off+10))
			n, err := s.ReadAt(p, int64(off))
			if end := min(len(want), off+len(p)); !bytes.Equal(p[:n], want[off:end]) || n != end-off ||
				(n < len(p) && err != io.EOF) {
				t.Fatalf("ReadAt(%d, %d) = %d, %v: bytes differ", len(p), off, n, err)
			}
		}
		if size, _ := s.Size(); size != int64(len(want)) {
			t.Fatalf("Size = %d, want %d", size, len(want))
		}
	}
	got := make([]byte, len(want))
	if n, _ := s.ReadAt(got, 0); n != len(want) || !bytes.Equal(got, want) {
		t.Fatalf("final contents differ")
	}
}
