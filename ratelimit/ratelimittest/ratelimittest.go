// Package ratelimittest holds conformance suites for the store interfaces of package
// ratelimit: RunStoreTests for ratelimit.Store and RunQuotaStoreTests for
// ratelimit.QuotaStore. Teams run them on their own implementations:
//
//	func TestMyStore(t *testing.T) {
//		ratelimittest.RunStoreTests(t, func(t *testing.T) (ratelimit.Store, func(time.Duration)) {
//			clock := ratelimittest.NewClock(time.Now())
//			return newMyStore(t, clock.Now), clock.Advance // empty: no key spent yet
//		})
//	}
//
// The suites never sleep. A factory returns the store and an advance function that
// moves the store's clock forward by a duration; the suites call it to see limits refill
// and counters expire. A store's clock must start at about the real time (time.Now())
// and move only forward, by advance and by real time. A store on a server's clock (Redis
// TIME) needs a test hook that adds an offset to that clock, as redisstore has. A nil
// advance skips the subtests that need one.
//
// A store may run on a real clock as well as the advanced one, so durations are checked
// within Tolerance and limits are slow enough that the seconds a test takes do not
// change a count.
package ratelimittest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/ratelimit"
)

// Tolerance is how far a duration a store reports may be from the exact GCRA value:
// the time between the suite's calls, on a real clock.
const Tolerance = 250 * time.Millisecond

type step struct {
	advance       time.Duration // moves the store's clock before the call
	cost          int
	wantAllowed   bool
	wantRemaining int
	wantReset     time.Duration
	wantRetry     time.Duration // -1: never
}

// RunStoreTests runs the conformance suite for ratelimit.Store against the stores
// newStore returns. Each subtest calls newStore once and expects a store with no key
// spent; stores may share a backend if newStore gives each a fresh namespace. advance
// moves that store's clock forward (see the package doc); nil skips the refill tests.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) (store ratelimit.Store, advance func(time.Duration))) {
	t.Helper()
	ctx := context.Background()
	const s = time.Second
	// Rate 0.5/s: a unit every 2 s, so a fast test never sees a refill.
	slow := ratelimit.Limit{Rate: 0.5, Burst: 3}
	tables := []struct {
		name  string
		limit ratelimit.Limit
		steps []step
	}{
		{"burst then refused", slow, []step{
			{0, 1, true, 2, 2 * s, 0},
			{0, 1, true, 1, 4 * s, 0},
			{0, 1, true, 0, 6 * s, 0},
			{0, 1, false, 0, 6 * s, 2 * s},
			{0, 1, false, 0, 6 * s, 2 * s},
		}},
		{"cost above one", ratelimit.Limit{Rate: 0.5, Burst: 5}, []step{
			{0, 3, true, 2, 6 * s, 0},
			{0, 3, false, 2, 6 * s, 2 * s},
			{0, 2, true, 0, 10 * s, 0},
			{0, 1, false, 0, 10 * s, 2 * s},
		}},
		{"cost above burst never allowed and not spent", slow, []step{
			{0, 4, false, 3, 0, -1},
			{0, 1, true, 2, 2 * s, 0},
			{0, 4, false, 2, 2 * s, -1},
		}},
		{"cost zero only reports", slow, []step{
			{0, 0, true, 3, 0, 0},
			{0, 2, true, 1, 4 * s, 0},
			{0, 0, true, 1, 4 * s, 0},
			{0, 1, true, 0, 6 * s, 0},
		}},
		{"refill on the store's clock", slow, []step{
			{0, 3, true, 0, 6 * s, 0},
			{0, 1, false, 0, 6 * s, 2 * s},
			{1500 * time.Millisecond, 1, false, 0, 4500 * time.Millisecond, 500 * time.Millisecond},
			{500 * time.Millisecond, 1, true, 0, 6 * s, 0},
			{4 * s, 0, true, 2, 2 * s, 0},
			{4 * s, 2, true, 1, 4 * s, 0},
			{time.Hour, 0, true, 3, 0, 0},
		}},
		{"cost above burst after refill still refused", ratelimit.Limit{Rate: 0.5, Burst: 2}, []step{
			{0, 2, true, 0, 4 * s, 0},
			{time.Hour, 3, false, 2, 0, -1},
			{0, 2, true, 0, 4 * s, 0},
		}},
	}
	for _, tt := range tables {
		t.Run(tt.name, func(t *testing.T) {
			st, advance := newStore(t)
			for i, w := range tt.steps {
				if w.advance > 0 {
					if advance == nil {
						t.Skip("ratelimittest: the factory returned no advance function")
					}
					advance(w.advance)
				}
				got, err := st.Allow(ctx, "k", w.cost, tt.limit)
				if err != nil {
					t.Fatalf("step %d: Allow: %v", i, err)
				}
				if got.Allowed != w.wantAllowed {
					t.Errorf("step %d (cost %d): Allowed %v, want %v", i, w.cost, got.Allowed, w.wantAllowed)
				}
				if got.Limit != tt.limit.Burst {
					t.Errorf("step %d: Limit %d, want %d", i, got.Limit, tt.limit.Burst)
				}
				if got.Remaining != w.wantRemaining {
					t.Errorf("step %d (cost %d): Remaining %d, want %d", i, w.cost, got.Remaining, w.wantRemaining)
				}
				near(t, fmt.Sprintf("step %d ResetAfter", i), got.ResetAfter, w.wantReset)
				if w.wantRetry < 0 {
					if got.RetryAfter != -1 {
						t.Errorf("step %d: RetryAfter %v, want -1", i, got.RetryAfter)
					}
				} else {
					near(t, fmt.Sprintf("step %d RetryAfter", i), got.RetryAfter, w.wantRetry)
				}
			}
		})
	}

	t.Run("keys independent", func(t *testing.T) {
		st, _ := newStore(t)
		l := ratelimit.Limit{Rate: 0.5, Burst: 2}
		for _, k := range []string{"a", "b", "a", "b"} {
			if r, err := st.Allow(ctx, k, 1, l); err != nil || !r.Allowed {
				t.Fatalf("key %q: %+v, %v; want allowed", k, r, err)
			}
		}
		for _, k := range []string{"a", "b"} {
			if r, err := st.Allow(ctx, k, 1, l); err != nil || r.Allowed {
				t.Errorf("key %q third: %+v, %v; want refused", k, r, err)
			}
		}
		if r, err := st.Allow(ctx, "c", 2, l); err != nil || !r.Allowed || r.Remaining != 0 {
			t.Errorf("key c: %+v, %v; want allowed with Remaining 0", r, err)
		}
	})

	t.Run("odd keys", func(t *testing.T) {
		st, _ := newStore(t)
		l := ratelimit.Limit{Rate: 0.5, Burst: 1}
		keys := []string{"", " ", "a b", "{tag}", "{tag}x", "*", "?", "\x00", "\xff\xfe", "ключ", "k\r\nSET x 1",
			"ip:2001:db8::/64", strings.Repeat("x", 10000), strings.Repeat("x", 10001)}
		for _, k := range keys {
			if r, err := st.Allow(ctx, k, 1, l); err != nil || !r.Allowed {
				t.Errorf("key %.20q first: %+v, %v; want allowed", k, r, err)
			}
		}
		for _, k := range keys {
			if r, err := st.Allow(ctx, k, 1, l); err != nil || r.Allowed {
				t.Errorf("key %.20q second: %+v, %v; want refused", k, r, err)
			}
		}
	})

	t.Run("concurrent callers", func(t *testing.T) {
		st, _ := newStore(t)
		l := ratelimit.Limit{Rate: 50, Burst: 10}
		const workers, calls = 8, 40
		var (
			mu      sync.Mutex
			allowed int
			wg      sync.WaitGroup
		)
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for range calls {
					r, err := st.Allow(ctx, "shared", 1, l)
					if err != nil {
						t.Errorf("Allow: %v", err)
						return
					}
					if r.Allowed {
						mu.Lock()
						allowed++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		bound := l.Burst + int(l.Rate*(elapsed+Tolerance).Seconds()) + 1
		if allowed > bound {
			t.Errorf("%d allowed in %v, want at most burst+rate·elapsed = %d", allowed, elapsed, bound)
		}
		if allowed < l.Burst {
			t.Errorf("%d allowed, want at least the burst %d", allowed, l.Burst)
		}
	})
}

func near(t *testing.T, what string, got, want time.Duration) {
	t.Helper()
	if got < want-Tolerance || got > want+Tolerance {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, Tolerance)
	}
}
