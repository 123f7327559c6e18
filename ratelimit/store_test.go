package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/ratelimittest"
)

func TestMemoryStoreConformance(t *testing.T) {
	ratelimittest.RunStoreTests(t, func(t *testing.T) (ratelimit.Store, func(time.Duration)) {
		clock := ratelimittest.NewClock(time.Now())
		s, err := ratelimit.NewMemoryStore(ratelimit.MemoryStoreConfig{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return s, clock.Advance
	})
}

func TestMemoryStoreInvalidLimit(t *testing.T) {
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryStoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []ratelimit.Limit{{Rate: 0, Burst: 1}, {Rate: 1, Burst: 0}} {
		if _, err := s.Allow(context.Background(), "k", 1, l); !errors.Is(err, ratelimit.ErrInvalidConfig) {
			t.Errorf("Allow with %+v: got error %v, want ErrInvalidConfig", l, err)
		}
	}
}

func TestMemoryStoreAllocs(t *testing.T) {
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryStoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, l := context.Background(), ratelimit.Limit{Rate: 1e6, Burst: 10}
	_, _ = s.Allow(ctx, "hot", 1, l)
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Allow(ctx, "hot", 1, l) }); n != 0 {
		t.Errorf("%v allocs per Allow, want 0", n)
	}
}

func BenchmarkMemoryStoreAllowOneKey(b *testing.B) {
	s, err := ratelimit.NewMemoryStore(ratelimit.MemoryStoreConfig{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, l := context.Background(), ratelimit.Limit{Rate: 1e9, Burst: 1 << 20}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = s.Allow(ctx, "ip:203.0.113.9", 1, l)
	}
}
