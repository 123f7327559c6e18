package ratelimit_test

import (
	"testing"
	"time"

	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/ratelimittest"
)

func TestMemoryQuotaStoreConformance(t *testing.T) {
	ratelimittest.RunQuotaStoreTests(t, func(t *testing.T) (ratelimit.QuotaStore, func(time.Duration)) {
		clock := ratelimittest.NewClock(time.Now())
		s, err := ratelimit.NewMemoryQuotaStore(ratelimit.MemoryQuotaStoreConfig{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return s, clock.Advance
	})
}
