package idempotencytest_test

import (
	"testing"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
)

// The suite on the reference store, so that a change to the suite is checked here too.
func TestRunStoreTestsOnMemoryStore(t *testing.T) {
	idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store {
		s, err := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// The benchmarks on the reference store: a baseline for a shared store's (pgstore,
// redisstore), which report round-trips/op too.
func BenchmarkMiddlewareMemoryStore(b *testing.B) {
	s, err := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
	if err != nil {
		b.Fatal(err)
	}
	idempotencytest.RunMiddlewareBenchmarks(b, s, nil)
}
