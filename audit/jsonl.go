package audit

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// JSONLines is a Sink that writes each event as one line of JSON (AppendJSON plus a
// newline) to an io.Writer, with one Write call per event so that lines never interleave.
// Writes are serialised: a writer that blocks holds up every request waiting to record its
// event, which is the intended back-pressure (no request completes unaudited). It is safe
// for concurrent use.
type JSONLines struct {
	mu   sync.Mutex
	w    io.Writer
	pool sync.Pool // *[]byte
}

var _ Sink = (*JSONLines)(nil)

// NewJSONLines returns a JSONLines sink writing to w, which must not be nil.
func NewJSONLines(w io.Writer) *JSONLines {
	return &JSONLines{w: w}
}

// maxPooledBuf is the largest buffer kept for reuse, so that one huge event does not pin
// its memory.
const maxPooledBuf = 64 << 10

// Write encodes e and writes it as one line. A write error is returned wrapping
// ErrSinkFailed.
func (s *JSONLines) Write(_ context.Context, e *Event) error {
	bp, _ := s.pool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append(e.AppendJSON((*bp)[:0]), '\n')
	s.mu.Lock()
	_, err := s.w.Write(b)
	s.mu.Unlock()
	if cap(b) <= maxPooledBuf {
		*bp = b
		s.pool.Put(bp)
	}
	if err != nil {
		return fmt.Errorf("%w: json lines: %w", ErrSinkFailed, err)
	}
	return nil
}
