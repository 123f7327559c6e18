package ratelimittest

import (
	"sync"
	"time"
)

// Clock is a fake clock for stores under test: pass Now as the store's clock and
// Advance as the suite's advance function. The zero value is not usable; call NewClock.
// It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading start. The suites expect a store's clock to start
// at about the real time, so pass time.Now().
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d; a negative d is ignored, as the suites never
// move a clock back.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
