// Package dpoptest checks implementations of dpop.ReplayStore: run [Run] from a test of
// your store to confirm that it behaves as the verifier relies on.
//
//	func TestStore(t *testing.T) {
//		dpoptest.Run(t, func(t *testing.T) dpop.ReplayStore {
//			return mystore.New(…) // empty, isolated from the other subtests
//		})
//	}
//
// The store's clock must be the real one: the suite uses time.Now and, in one subtest,
// waits about a tenth of a second for a record to expire.
package dpoptest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
)

// Run runs the conformance tests as subtests of t. newStore must return an empty store,
// isolated from the stores of other subtests (a fresh one, or one with its own key
// prefix); subtests may run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) dpop.ReplayStore) {
	t.Helper()
	ctx := context.Background()

	t.Run("FirstUseThenReplay", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		until := time.Now().Add(time.Hour)
		steps := []struct {
			jti          string
			until        time.Time
			wantReplayed bool
		}{
			{"jti-1", until, false},
			{"jti-1", until, true},
			{"jti-1", until.Add(time.Hour), true}, // a later until changes nothing
			{"jti-2", until, false},
			{"jti-1", until, true},
			{"jti-2", until, true},
		}
		for i, st := range steps {
			got, err := s.Use(ctx, st.jti, st.until)
			if err != nil {
				t.Fatalf("step %d: Use(%q) error: %v", i, st.jti, err)
			}
			if got != st.wantReplayed {
				t.Fatalf("step %d: Use(%q) replayed = %v, want %v", i, st.jti, got, st.wantReplayed)
			}
		}
	})

	t.Run("DistinctIDs", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		until := time.Now().Add(time.Hour)
		ids := []string{
			"a", "A", "a ", " a", "é", "e\u0301", "\x00", "\x00\x01", "\xff\xfe",
			"a:b", "a*", "*", "{a}", strings.Repeat("j", 256), strings.Repeat("j", 255),
			"KZ3xTkQ1hX8yR5b2cN7dWg", "KZ3xTkQ1hX8yR5b2cN7dWh",
		}
		for _, id := range ids {
			if got, err := s.Use(ctx, id, until); err != nil || got {
				t.Fatalf("first Use(%q) = %v, %v; want false, nil", id, got, err)
			}
		}
		for _, id := range ids {
			if got, err := s.Use(ctx, id, until); err != nil || !got {
				t.Fatalf("second Use(%q) = %v, %v; want true, nil", id, got, err)
			}
		}
	})

	t.Run("PastUntilIsNotRemembered", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		now := time.Now()
		steps := []struct {
			until        time.Time
			wantReplayed bool
		}{
			{now.Add(-time.Second), false},
			{now.Add(-time.Second), false}, // the first was not kept
			{now.Add(time.Hour), false},
			{now.Add(time.Hour), true},
			{now.Add(-time.Second), true}, // still recorded, whatever this call's until
		}
		for i, st := range steps {
			got, err := s.Use(ctx, "jti-past", st.until)
			if err != nil {
				t.Fatalf("step %d: Use error: %v", i, err)
			}
			if got != st.wantReplayed {
				t.Fatalf("step %d: Use(until %s from now) replayed = %v, want %v",
					i, st.until.Sub(now).Round(time.Second), got, st.wantReplayed)
			}
		}
	})

	t.Run("RecordExpiresAtUntil", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		const ttl = 100 * time.Millisecond
		start := time.Now()
		until := start.Add(ttl)
		if got, err := s.Use(ctx, "jti-ttl", until); err != nil || got {
			t.Fatalf("first Use = %v, %v; want false, nil", got, err)
		}
		for {
			got, err := s.Use(ctx, "jti-ttl", until)
			if err != nil {
				t.Fatalf("Use error: %v", err)
			}
			now := time.Now()
			if !got {
				if now.Before(until) {
					t.Fatalf("record forgotten %s after Use, before its until (%s)", now.Sub(start), ttl)
				}
				return
			}
			// Allow the store's clock a second of difference from ours.
			if now.After(until.Add(time.Second)) {
				t.Fatalf("record still there %s after Use, its until was %s", now.Sub(start), ttl)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("ConcurrentUseOfOneID", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		until := time.Now().Add(time.Hour)
		const n = 32
		var wg sync.WaitGroup
		results := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { results[i], errs[i] = s.Use(ctx, "jti-race", until) })
		}
		wg.Wait()
		fresh := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Use error: %v", errs[i])
			}
			if !results[i] {
				fresh++
			}
		}
		if fresh != 1 {
			t.Fatalf("%d of %d concurrent Uses of one jti reported it fresh, want exactly 1", fresh, n)
		}
	})

	t.Run("ConcurrentDistinctIDs", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		until := time.Now().Add(time.Hour)
		const n = 64
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				got, err := s.Use(ctx, fmt.Sprintf("jti-%d", i), until)
				if err == nil && got {
					err = fmt.Errorf("jti-%d reported replayed on first use", i)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
