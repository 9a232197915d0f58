package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// errLogsReleased is returned for the logs of a run after Close.
var errLogsReleased = errors.New("the build's logs were released")

// stepLog is a step's output, kept in a file under the run's log directory. It is bounded:
// when the file would grow past max/2 it becomes path.1 (replacing the one before) and a
// new file starts, so between max/2 and max of the latest bytes are kept.
type stepLog struct {
	path string
	max  int64

	mu       sync.Mutex
	f        *os.File // the current file while the step runs
	cur, old int64    // bytes in path and path.1
	total    int64    // bytes ever written
	started  bool
	finished bool
	released bool
	changed  chan struct{} // closed and replaced at every change
}

func newStepLog(path string, max int64) *stepLog {
	return &stepLog{path: path, max: max, changed: make(chan struct{})}
}

// broadcast wakes followers; mu must be held.
func (l *stepLog) broadcast() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// open creates the log file as the step starts.
func (l *stepLog) open() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = true
	defer l.broadcast()
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

// Write appends the step's output. Only the goroutine copying the step's output calls it.
func (l *stepLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.broadcast()
	written := 0
	for len(p) > 0 {
		if l.f == nil {
			return written, os.ErrClosed
		}
		room := l.max/2 - l.cur
		if room <= 0 {
			if err := l.rotate(); err != nil {
				return written, err
			}
			room = l.max / 2
		}
		n, err := l.f.Write(p[:min(int64(len(p)), room)])
		l.cur += int64(n)
		l.total += int64(n)
		written += n
		p = p[n:]
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// rotate makes the current file the old one and starts a new one; mu must be held.
func (l *stepLog) rotate() error {
	l.f.Close()
	l.f = nil
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	l.f, l.old, l.cur = f, l.cur, 0
	return nil
}

// finish closes the file as the step ends.
func (l *stepLog) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	l.finished = true
	l.broadcast()
}

// release marks the log gone, as its files are about to be removed.
func (l *stepLog) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.released = true
	l.broadcast()
}

// readFrom returns the kept bytes from the stream offset pos on (from the oldest kept byte
// when pos is older), the offset they start at, and the state of the log. mu must be held.
func (l *stepLog) readFrom(pos int64) (data []byte, start int64, err error) {
	if l.released {
		return nil, 0, errLogsReleased
	}
	first := l.total - l.cur - l.old
	if pos < first {
		pos = first
	}
	start = pos
	if pos >= l.total {
		return nil, start, nil
	}
	data = make([]byte, 0, l.total-pos)
	if curStart := l.total - l.cur; pos < curStart {
		b, err := readAt(l.path+".1", pos-first, curStart-pos)
		if err != nil {
			return nil, 0, err
		}
		data = append(data, b...)
		pos = curStart
	}
	b, err := readAt(l.path, pos-(l.total-l.cur), l.total-pos)
	if err != nil {
		return nil, 0, err
	}
	return append(data, b...), start, nil
}

func readAt(path string, off, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := f.ReadAt(b, off)
	if err == io.EOF && int64(m) == n {
		err = nil
	}
	return b[:m], err
}

// splitLines splits data into lines. It drops a first partial line when data does not start
// at the beginning of the stream (start > 0 and the byte before is unknown), and returns the
// last line without a newline separately.
func splitLines(data []byte, truncated bool) (lines []string, partial []byte) {
	if truncated {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil, nil
		}
		data = data[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(data[:i]))
		data = data[i+1:]
	}
	return lines, data
}

// lines returns up to the last tail lines (all if tail <= 0), with a last line the step has
// not ended yet.
func (l *stepLog) lines(tail int) ([]string, error) {
	l.mu.Lock()
	data, start, err := l.readFrom(0)
	l.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("build logs: %w", err)
	}
	lines, partial := splitLines(data, start > 0)
	if len(partial) > 0 {
		lines = append(lines, string(partial))
	}
	if tail > 0 && len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	if lines == nil {
		lines = []string{}
	}
	return lines, nil
}

// follow writes the last tail lines, then new lines as they come, until the step ended and
// every line was written, or runDone is closed while the step never started.
func (l *stepLog) follow(ctx context.Context, tail int, w io.Writer, runDone <-chan struct{}) error {
	var (
		pos     int64 = -1 // stream offset read up to; -1 before the first read
		partial []byte
	)
	for {
		l.mu.Lock()
		var (
			data  []byte
			start int64
			err   error
		)
		if pos < 0 {
			data, start, err = l.readFrom(0)
		} else {
			data, start, err = l.readFrom(pos)
		}
		started, finished, changed := l.started, l.finished, l.changed
		end := start + int64(len(data))
		l.mu.Unlock()
		if err != nil {
			return fmt.Errorf("build logs: %w", err)
		}
		var lines []string
		if pos < 0 {
			lines, partial = splitLines(data, start > 0)
			if finished && len(partial) > 0 {
				lines, partial = append(lines, string(partial)), nil
			}
			if tail > 0 && len(lines) > tail {
				lines = lines[len(lines)-tail:]
			}
		} else {
			if start > pos { // what we had not read yet was dropped: resynchronise on a line
				lines, partial = splitLines(data, true)
			} else {
				lines, partial = splitLines(append(partial, data...), false)
			}
		}
		pos = end
		for _, line := range lines {
			if _, err := io.WriteString(w, line+"\n"); err != nil {
				return err
			}
		}
		if finished {
			if len(partial) > 0 {
				if _, err := w.Write(append(partial, '\n')); err != nil {
					return err
				}
			}
			return nil
		}
		var stop <-chan struct{}
		if !started {
			stop = runDone
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-stop:
			// The run ended: the step never ran unless it started meanwhile.
			l.mu.Lock()
			started = l.started
			l.mu.Unlock()
			if !started {
				return nil
			}
		}
	}
}
