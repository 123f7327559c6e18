package dpop_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
	"github.com/phikit/phikit/authn/dpop/dpoptest"
)

func TestMemoryReplayStoreConformance(t *testing.T) {
	dpoptest.Run(t, func(*testing.T) dpop.ReplayStore { return dpop.NewMemoryReplayStore(0, nil) })
}

// TestMemoryReplayStore walks a store of capacity 2 on a fake clock.
func TestMemoryReplayStore(t *testing.T) {
	c := &clock{now: t0}
	s := dpop.NewMemoryReplayStore(2, c.Now)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	steps := []struct {
		advance      time.Duration // before the step
		jti          string
		until        time.Time
		wantReplayed bool
		wantErr      error
		wantLen      int
	}{
		{0, "a", at(10 * time.Second), false, nil, 1},
		{0, "a", at(10 * time.Second), true, nil, 1},
		{0, "b", at(20 * time.Second), false, nil, 2},
		{0, "c", at(30 * time.Second), false, dpop.ErrStoreFull, 2},  // full: fail closed
		{0, "c", at(-time.Second), false, nil, 2},                    // already expired: nothing to keep
		{0, "a", at(10 * time.Second), true, nil, 2},                 // refusals forgot nothing
		{10 * time.Second, "a", at(40 * time.Second), false, nil, 2}, // a expired at its until
		{0, "c", at(30 * time.Second), false, dpop.ErrStoreFull, 2},
		{10 * time.Second, "c", at(30 * time.Second), false, nil, 2}, // b expired, then c taken…
		{0, "a", at(40 * time.Second), true, nil, 2},
		{time.Hour, "b", at(2 * time.Hour), false, nil, 1}, // …and everything expires
	}
	for i, st := range steps {
		c.Add(st.advance)
		got, err := s.Use(context.Background(), st.jti, st.until)
		if got != st.wantReplayed || !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
			t.Fatalf("step %d: Use(%q) = %v, %v; want %v, %v", i, st.jti, got, err, st.wantReplayed, st.wantErr)
		}
		if n := s.Len(); n != st.wantLen {
			t.Fatalf("step %d: Len() = %d, want %d", i, n, st.wantLen)
		}
	}
}

func TestMemoryReplayStoreLen(t *testing.T) {
	c := &clock{now: t0}
	s := dpop.NewMemoryReplayStore(0, c.Now)
	for i, d := range []time.Duration{3, 1, 2, 5, 4} {
		if _, err := s.Use(context.Background(), string(rune('a'+i)), t0.Add(d*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range []struct {
		advance time.Duration
		want    int
	}{{0, 5}, {time.Second, 4}, {time.Second, 3}, {2 * time.Second, 1}, {time.Second, 0}} {
		c.Add(st.advance)
		if got := s.Len(); got != st.want {
			t.Fatalf("at %s: Len() = %d, want %d", c.Now().Sub(t0), got, st.want)
		}
	}
}

func BenchmarkMemoryReplayStore(b *testing.B) {
	s := dpop.NewMemoryReplayStore(1<<20, nil)
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = "jti-" + itoa(int64(i)) + "-KZ3xTkQ1hX8yR5b2cN7dWg"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Use(ctx, ids[i%len(ids)], until); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
