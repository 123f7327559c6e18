package audit_test

import (
	"context"
	"errors"
	"io"
	"log"
	"sync"
	"time"

	"github.com/phikit/phikit/audit"
)

// memorySink keeps copies of the events it receives; err, when set, makes Write fail.
type memorySink struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (s *memorySink) Write(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.events = append(s.events, *e)
	return nil
}

func (s *memorySink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

func (s *memorySink) all() []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Event(nil), s.events...)
}

var errDiskFull = errors.New("disk full")

// stepClock returns a Now that starts at t0 and advances by step on every call.
func stepClock(t0 time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	next := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := next
		next = next.Add(step)
		return now
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
