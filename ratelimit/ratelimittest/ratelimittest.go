// Package ratelimittest is a conformance suite for ratelimit.Store implementations.
//
//	func TestMyStore(t *testing.T) {
//		ratelimittest.RunStoreTests(t, func(t *testing.T) ratelimit.Store {
//			return newMyStore(t) // empty: no key spent yet
//		})
//	}
//
// The suite runs on the store's own clock (often a server's real clock), so durations
// are checked within a tolerance and limits are slow enough that the seconds a test
// takes do not change a count.
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
	cost          int
	wantAllowed   bool
	wantRemaining int
	wantReset     time.Duration
	wantRetry     time.Duration // -1: never
}

// RunStoreTests runs the conformance suite against the stores newStore returns. Each
// subtest calls newStore once and expects a store with no key spent; stores may share a
// backend if newStore gives each a fresh namespace.
func RunStoreTests(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
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
			{1, true, 2, 2 * s, 0},
			{1, true, 1, 4 * s, 0},
			{1, true, 0, 6 * s, 0},
			{1, false, 0, 6 * s, 2 * s},
			{1, false, 0, 6 * s, 2 * s},
		}},
		{"cost above one", ratelimit.Limit{Rate: 0.5, Burst: 5}, []step{
			{3, true, 2, 6 * s, 0},
			{3, false, 2, 6 * s, 2 * s},
			{2, true, 0, 10 * s, 0},
			{1, false, 0, 10 * s, 2 * s},
		}},
		{"cost above burst never allowed and not spent", slow, []step{
			{4, false, 3, 0, -1},
			{1, true, 2, 2 * s, 0},
			{4, false, 2, 2 * s, -1},
		}},
		{"cost zero only reports", slow, []step{
			{0, true, 3, 0, 0},
			{2, true, 1, 4 * s, 0},
			{0, true, 1, 4 * s, 0},
			{1, true, 0, 6 * s, 0},
		}},
	}
	for _, tt := range tables {
		t.Run(tt.name, func(t *testing.T) {
			st := newStore(t)
			for i, w := range tt.steps {
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

	t.Run("refill after RetryAfter", func(t *testing.T) {
		st := newStore(t)
		l := ratelimit.Limit{Rate: 20, Burst: 1} // 50 ms a unit
		if r, err := st.Allow(ctx, "k", 1, l); err != nil || !r.Allowed {
			t.Fatalf("first: %+v, %v; want allowed", r, err)
		}
		r, err := st.Allow(ctx, "k", 1, l)
		if err != nil || r.Allowed {
			t.Fatalf("second: %+v, %v; want refused", r, err)
		}
		time.Sleep(r.RetryAfter + 10*time.Millisecond) // the store's clock is its own
		if r, err := st.Allow(ctx, "k", 1, l); err != nil || !r.Allowed {
			t.Fatalf("after RetryAfter: %+v, %v; want allowed", r, err)
		}
	})

	t.Run("keys independent", func(t *testing.T) {
		st := newStore(t)
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
		st := newStore(t)
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
		st := newStore(t)
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
