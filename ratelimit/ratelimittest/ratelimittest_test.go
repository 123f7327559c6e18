package ratelimittest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/ratelimittest"
)

// refQuota is the smallest QuotaStore the suite should accept: a map under a mutex on
// an injected clock. It checks that the suite asks nothing of a store but the
// documented rules.
type refQuota struct {
	mu     sync.Mutex
	now    func() time.Time
	counts map[string]refCount
}

type refCount struct {
	n        int64
	expireAt time.Time
}

func (q *refQuota) Spend(_ context.Context, key string, cost, limit int64, expireAt time.Time) (int64, bool, error) {
	if limit <= 0 {
		return 0, false, fmt.Errorf("refQuota: limit must be positive: %w", ratelimit.ErrInvalidConfig)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.counts[key]
	if !q.now().Before(c.expireAt) {
		c = refCount{}
	}
	if cost <= 0 {
		return c.n, c.n <= limit, nil
	}
	if cost > limit-c.n { // no overflow: 0 <= c.n <= limit
		return c.n, false, nil
	}
	c.n += cost
	c.expireAt = expireAt
	q.counts[key] = c
	return c.n, true, nil
}

func TestRunQuotaStoreTestsOnReference(t *testing.T) {
	ratelimittest.RunQuotaStoreTests(t, func(t *testing.T) (ratelimit.QuotaStore, func(time.Duration)) {
		clock := ratelimittest.NewClock(time.Now())
		return &refQuota{now: clock.Now, counts: map[string]refCount{}}, clock.Advance
	})
}

func TestRunQuotaStoreTestsWithoutAdvance(t *testing.T) {
	ratelimittest.RunQuotaStoreTests(t, func(t *testing.T) (ratelimit.QuotaStore, func(time.Duration)) {
		return &refQuota{now: time.Now, counts: map[string]refCount{}}, nil
	})
}

func TestRunStoreTestsWithoutAdvance(t *testing.T) {
	ratelimittest.RunStoreTests(t, func(t *testing.T) (ratelimit.Store, func(time.Duration)) {
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryStoreConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s, nil
	})
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := ratelimittest.NewClock(start)
	steps := []struct {
		name    string
		advance time.Duration
		want    time.Time
	}{
		{"no move", 0, start},
		{"forward", time.Minute, start.Add(time.Minute)},
		{"back is ignored", -time.Hour, start.Add(time.Minute)},
		{"forward again", time.Second, start.Add(time.Minute + time.Second)},
	}
	for _, s := range steps {
		c.Advance(s.advance)
		if got := c.Now(); !got.Equal(s.want) {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
	}
}
