package ratelimittest

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/ratelimit"
)

type spendStep struct {
	cost        int64
	wantCount   int64
	wantAllowed bool
}

// RunQuotaStoreTests runs the conformance suite for ratelimit.QuotaStore against the
// stores newStore returns. Each subtest calls newStore once and expects a store with no
// counter; stores may share a backend if newStore gives each a fresh namespace. advance
// moves that store's clock forward (see the package doc); nil skips the expiry tests.
//
// Beyond the interface's contract, the suite holds a store to these rules, the same as
// ratelimit.Store.Allow's: a cost of zero or less only reports the count (allowed when
// the count is within limit); a cost above limit is refused and spends nothing, even
// math.MaxInt64 on a counter already spent (no overflow); a limit of zero or less is an
// error wrapping ratelimit.ErrInvalidConfig; a spend whose expireAt has already passed
// is allowed but not remembered. Limits up to 2⁴⁰ are used.
func RunQuotaStoreTests(t *testing.T, newStore func(t *testing.T) (store ratelimit.QuotaStore, advance func(time.Duration))) {
	t.Helper()
	ctx := context.Background()
	tables := []struct {
		name  string
		limit int64
		steps []spendStep
	}{
		{"allowed up to the limit then refused", 3, []spendStep{
			{1, 1, true},
			{1, 2, true},
			{1, 3, true},
			{1, 3, false},
			{1, 3, false},
		}},
		{"cost above one", 10, []spendStep{
			{4, 4, true},
			{4, 8, true},
			{3, 8, false},
			{2, 10, true},
			{1, 10, false},
		}},
		{"cost zero only reports", 2, []spendStep{
			{0, 0, true},
			{2, 2, true},
			{0, 2, true},
			{1, 2, false},
			{0, 2, true},
		}},
		{"negative cost only reports", 2, []spendStep{
			{-1, 0, true},
			{1, 1, true},
			{-5, 1, true},
			{math.MinInt64, 1, true},
			{1, 2, true},
			{-1, 2, true},
		}},
		{"cost above limit refused and not spent", 5, []spendStep{
			{6, 0, false},
			{2, 2, true},
			{4, 2, false},
			{math.MaxInt64, 2, false},
			{math.MaxInt64 - 1, 2, false},
			{3, 5, true},
			{math.MaxInt64, 5, false},
		}},
		{"limit of one", 1, []spendStep{
			{1, 1, true},
			{1, 1, false},
			{0, 1, true},
		}},
		{"large limit", 1 << 40, []spendStep{
			{1<<40 - 1, 1<<40 - 1, true},
			{2, 1<<40 - 1, false},
			{1, 1 << 40, true},
			{1, 1 << 40, false},
		}},
	}
	for _, tt := range tables {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			expireAt := time.Now().Add(time.Hour)
			for i, w := range tt.steps {
				count, allowed, err := st.Spend(ctx, "k", w.cost, tt.limit, expireAt)
				if err != nil {
					t.Fatalf("step %d (cost %d): Spend: %v", i, w.cost, err)
				}
				if allowed != w.wantAllowed || count != w.wantCount {
					t.Errorf("step %d (cost %d, limit %d): got count %d allowed %v, want count %d allowed %v",
						i, w.cost, tt.limit, count, allowed, w.wantCount, w.wantAllowed)
				}
			}
		})
	}

	t.Run("invalid limit", func(t *testing.T) {
		st, _ := newStore(t)
		expireAt := time.Now().Add(time.Hour)
		for _, limit := range []int64{0, -1, math.MinInt64} {
			if _, _, err := st.Spend(ctx, "k", 1, limit, expireAt); !errors.Is(err, ratelimit.ErrInvalidConfig) {
				t.Errorf("limit %d: got error %v, want ratelimit.ErrInvalidConfig", limit, err)
			}
		}
		// Nothing was spent by the refused calls.
		if count, allowed, err := st.Spend(ctx, "k", 0, 1, expireAt); err != nil || count != 0 || !allowed {
			t.Errorf("after invalid limits: got count %d allowed %v err %v, want count 0 allowed true", count, allowed, err)
		}
	})

	t.Run("expires at expireAt", func(t *testing.T) {
		st, advance := newStore(t)
		if advance == nil {
			t.Skip("ratelimittest: the factory returned no advance function")
		}
		start := time.Now()
		first, second := start.Add(time.Hour), start.Add(2*time.Hour)
		steps := []struct {
			name        string
			advance     time.Duration
			cost        int64
			expireAt    time.Time
			wantCount   int64
			wantAllowed bool
		}{
			{"spend the window", 0, 2, first, 2, true},
			{"window spent", 0, 1, first, 2, false},
			{"a minute before expireAt", 59 * time.Minute, 1, first, 2, false},
			{"a minute after expireAt: forgotten", 2 * time.Minute, 0, second, 0, true},
			{"next window spent", 0, 2, second, 2, true},
			{"next window refused", 0, 1, second, 2, false},
			{"after the next window", time.Hour, 0, second.Add(time.Hour), 0, true},
		}
		for _, s := range steps {
			advance(s.advance)
			count, allowed, err := st.Spend(ctx, "k", s.cost, 2, s.expireAt)
			if err != nil {
				t.Fatalf("%s: Spend: %v", s.name, err)
			}
			if count != s.wantCount || allowed != s.wantAllowed {
				t.Errorf("%s: got count %d allowed %v, want count %d allowed %v", s.name, count, allowed, s.wantCount, s.wantAllowed)
			}
		}
	})

	t.Run("expireAt already past is not remembered", func(t *testing.T) {
		st, _ := newStore(t)
		past := time.Now().Add(-time.Minute)
		for i := range 3 {
			count, allowed, err := st.Spend(ctx, "k", 1, 1, past)
			if err != nil {
				t.Fatalf("spend %d: %v", i, err)
			}
			if count != 1 || !allowed {
				t.Errorf("spend %d: got count %d allowed %v, want count 1 allowed true", i, count, allowed)
			}
		}
	})

	t.Run("keys independent", func(t *testing.T) {
		st, _ := newStore(t)
		expireAt := time.Now().Add(time.Hour)
		for _, k := range []string{"a", "b", "a", "b"} {
			if _, allowed, err := st.Spend(ctx, k, 1, 2, expireAt); err != nil || !allowed {
				t.Fatalf("key %q: got allowed %v err %v, want allowed", k, allowed, err)
			}
		}
		for _, k := range []string{"a", "b"} {
			if count, allowed, err := st.Spend(ctx, k, 1, 2, expireAt); err != nil || allowed || count != 2 {
				t.Errorf("key %q third: got count %d allowed %v err %v, want count 2 refused", k, count, allowed, err)
			}
		}
		if count, allowed, err := st.Spend(ctx, "c", 2, 2, expireAt); err != nil || !allowed || count != 2 {
			t.Errorf("key c: got count %d allowed %v err %v, want count 2 allowed", count, allowed, err)
		}
	})

	t.Run("odd keys", func(t *testing.T) {
		st, _ := newStore(t)
		expireAt := time.Now().Add(time.Hour)
		keys := []string{"", " ", "a b", "{tag}", "{tag}x", "*", "?", "\x00", "\xff\xfe", "ключ", "k\r\nSET x 1",
			"quota:2026-11:tenant", strings.Repeat("x", 10000), strings.Repeat("x", 10001)}
		for _, k := range keys {
			if count, allowed, err := st.Spend(ctx, k, 1, 1, expireAt); err != nil || !allowed || count != 1 {
				t.Errorf("key %.20q first: got count %d allowed %v err %v, want count 1 allowed", k, count, allowed, err)
			}
		}
		for _, k := range keys {
			if count, allowed, err := st.Spend(ctx, k, 1, 1, expireAt); err != nil || allowed || count != 1 {
				t.Errorf("key %.20q second: got count %d allowed %v err %v, want count 1 refused", k, count, allowed, err)
			}
		}
	})

	t.Run("concurrent spends never exceed the limit", func(t *testing.T) {
		st, _ := newStore(t)
		expireAt := time.Now().Add(time.Hour)
		const workers, calls, limit = 50, 10, 137
		var (
			mu    sync.Mutex
			spent int64
			wg    sync.WaitGroup
		)
		for w := range workers {
			cost := int64(w%3 + 1)
			wg.Go(func() {
				for range calls {
					count, allowed, err := st.Spend(ctx, "shared", cost, limit, expireAt)
					if err != nil {
						t.Errorf("Spend: %v", err)
						return
					}
					if count > limit {
						t.Errorf("Spend reported count %d, want at most the limit %d", count, limit)
					}
					if allowed {
						mu.Lock()
						spent += cost
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		count, _, err := st.Spend(ctx, "shared", 0, limit, expireAt)
		if err != nil {
			t.Fatal(err)
		}
		if count != spent {
			t.Errorf("counter %d, want the sum of allowed costs %d", count, spent)
		}
		// 1000 calls of cost 1-3 ask for about 2000: the counter fills to within the
		// largest cost of the limit, and never past it.
		if spent > limit || spent < limit-2 {
			t.Errorf("spent %d of limit %d, want between %d and %d", spent, limit, limit-2, limit)
		}
	})
}
