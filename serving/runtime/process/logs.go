package process

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
)

// ring keeps the last lines an instance wrote.
type ring struct {
	mu    sync.Mutex
	lines []string // circular, len = capacity
	next  int      // where the next line goes
	n     int      // lines held
}

func newRing(capacity int) *ring { return &ring{lines: make([]string, capacity)} }

func (r *ring) add(line string) {
	r.mu.Lock()
	r.lines[r.next] = line
	r.next = (r.next + 1) % len(r.lines)
	r.n = min(r.n+1, len(r.lines))
	r.mu.Unlock()
}

// last returns up to the last n lines, oldest first; n <= 0 means all it holds.
func (r *ring) last(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n <= 0 || n > r.n {
		n = r.n
	}
	out := make([]string, n)
	start := (r.next - n + len(r.lines)) % len(r.lines)
	for i := range out {
		out[i] = r.lines[(start+i)%len(r.lines)]
	}
	return out
}

// maxLine is the longest line kept whole; longer ones are split.
const maxLine = 16 << 10

// pump reads an instance's output line by line into its ring and, at debug level, the log,
// until the pipe closes (every process holding its write end has exited).
func pump(rd io.ReadCloser, logs *ring, log *slog.Logger, done chan<- struct{}) {
	defer close(done)
	defer rd.Close()
	br := bufio.NewReaderSize(rd, maxLine)
	debug := log.Enabled(context.Background(), slog.LevelDebug)
	for {
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			line := string(trimNewline(b))
			logs.add(line)
			if debug {
				log.Debug("instance output", "line", line)
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
