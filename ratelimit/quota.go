package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// QuotaStore keeps quota counters: one counter per key and calendar window, which the
// caller names in key. Spend adds cost to the counter if the sum stays within limit, and
// returns the counter after the call (unchanged when refused) and whether it was
// spent. A cost of zero or less only reports; a limit below one is an error wrapping
// ErrInvalidConfig. The counter is forgotten at expireAt (the end of its window; a
// spend whose expireAt has passed is not remembered). An error means no decision was
// taken.
//
// Implementations must be safe for concurrent use, and Spend must be atomic: of
// concurrent Spends no more than limit is ever spent. ratelimittest.RunQuotaStoreTests
// checks one.
type QuotaStore interface {
	Spend(ctx context.Context, key string, cost, limit int64, expireAt time.Time) (count int64, allowed bool, err error)
}

// Period is the calendar window of a [Quota].
type Period int

const (
	// Day is a calendar day in Config.Location, from midnight to midnight.
	Day Period = iota + 1
	// Month is a calendar month in Config.Location, from the first at midnight.
	Month
)

// String returns "day" or "month".
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "Period(" + strconv.Itoa(int(p)) + ")"
}

// window returns the start and end of the period holding t.
func (p Period) window(t time.Time) (start, end time.Time) {
	y, m, d := t.Date()
	if p == Day {
		start = time.Date(y, m, d, 0, 0, 0, 0, t.Location())
		return start, start.AddDate(0, 0, 1)
	}
	start = time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	return start, start.AddDate(0, 1, 0)
}

// id names the window that begins at start, for the counter's key: "20261127" for a
// day, "202611" for a month.
func (p Period) id(start time.Time) string {
	if p == Day {
		return start.Format("20060102")
	}
	return start.Format("200601")
}

// Quota is an allowance over a calendar day or month, kept next to the rate limit: at
// most Limit cost units per key per Period. Where the rate limit smooths bursts, a quota
// caps the total (a partner's 100 000 requests a month).
type Quota struct {
	// Name names the quota in the RateLimit and RateLimit-Policy fields, and in its
	// counters' keys: 1 to 64 characters from [A-Za-z0-9_.-], distinct from the other
	// quotas' and from Config.Policy. Required.
	Name string
	// Limit is the number of cost units allowed per key per Period. Required: positive.
	Limit int64
	// Period is the window, Day or Month. Required.
	Period Period
}

// QuotaResult is the outcome of one quota in a [Decision].
type QuotaResult struct {
	// Name is the Quota's.
	Name string
	// Allowed reports whether the request fits in the quota; its cost was spent only if
	// so.
	Allowed bool
	// Limit is the Quota's.
	Limit int64
	// Remaining is the number of cost units the key may still spend in this window.
	Remaining int64
	// ResetAfter is how long until the window ends and the quota is back in full.
	ResetAfter time.Duration
	// Window is the length of the current window (a month's varies).
	Window time.Duration
}

// DefaultMaxQuotaKeys is the number of counters a MemoryQuotaStore keeps when
// MemoryQuotaStoreConfig.MaxKeys is zero.
const DefaultMaxQuotaKeys = 100_000

// ErrQuotaStoreFull is returned by MemoryQuotaStore.Spend for a new counter when MaxKeys
// live counters are kept already. Unlike a rate limiter's, a quota counter cannot be
// forgotten early without handing its key the whole quota again, so the store refuses
// instead, and the middleware applies Config.OnStoreError.
var ErrQuotaStoreFull = errors.New("ratelimit: quota store full")

// MemoryQuotaStoreConfig configures a MemoryQuotaStore. The zero value is ready to use.
type MemoryQuotaStoreConfig struct {
	// MaxKeys caps the live counters kept; zero means DefaultMaxQuotaKeys.
	MaxKeys int
	// Now is the clock that expires counters; nil means time.Now.
	Now func() time.Time
}

// MemoryQuotaStore is a QuotaStore in process memory. Counters past their expireAt are
// dropped when the store is full and a new one is needed. It is safe for concurrent use.
type MemoryQuotaStore struct {
	now     func() time.Time
	maxKeys int
	mu      sync.Mutex
	counts  map[string]quotaCount
	// sweepAfter is the earliest expiry among the counters at the last sweep that
	// freed nothing: no counter expires before it.
	sweepAfter int64
}

type quotaCount struct {
	n        int64
	expireAt int64 // Unix nanoseconds
}

var _ QuotaStore = (*MemoryQuotaStore)(nil)

// NewMemoryQuotaStore checks cfg and returns a MemoryQuotaStore.
func NewMemoryQuotaStore(cfg MemoryQuotaStoreConfig) (*MemoryQuotaStore, error) {
	if cfg.MaxKeys < 0 || cfg.MaxKeys > MaxKeysLimit {
		return nil, fmt.Errorf("ratelimit: MaxKeys must be between 0 and %d: %w", MaxKeysLimit, ErrInvalidConfig)
	}
	s := &MemoryQuotaStore{now: cfg.Now, maxKeys: cfg.MaxKeys, counts: make(map[string]quotaCount)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxKeys == 0 {
		s.maxKeys = DefaultMaxQuotaKeys
	}
	return s, nil
}

// Spend implements QuotaStore. A limit below one is an error wrapping ErrInvalidConfig.
func (s *MemoryQuotaStore) Spend(_ context.Context, key string, cost, limit int64, expireAt time.Time) (int64, bool, error) {
	if limit < 1 {
		return 0, false, fmt.Errorf("ratelimit: a quota limit must be positive: %w", ErrInvalidConfig)
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.counts[key]
	if ok && c.expireAt <= now {
		delete(s.counts, key)
		c, ok = quotaCount{}, false
	}
	if cost <= 0 || cost > limit-c.n {
		return c.n, cost <= 0, nil
	}
	if !ok && len(s.counts) >= s.maxKeys {
		if now < s.sweepAfter {
			return 0, false, ErrQuotaStoreFull
		}
		// Drop the expired counters; if none is, no sweep is worth its cost before the
		// earliest expiry, so a flood of new keys cannot buy a scan each.
		s.sweepAfter = math.MaxInt64
		for k, v := range s.counts {
			if v.expireAt <= now {
				delete(s.counts, k)
			} else {
				s.sweepAfter = min(s.sweepAfter, v.expireAt)
			}
		}
		if len(s.counts) >= s.maxKeys {
			return 0, false, ErrQuotaStoreFull
		}
	}
	c.n += cost
	c.expireAt = expireAt.UnixNano()
	s.counts[key] = c
	return c.n, true, nil
}

// Len returns the number of counters kept, live or not yet dropped.
func (s *MemoryQuotaStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.counts)
}
