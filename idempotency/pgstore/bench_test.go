package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/internal/testserver"
)

// BenchmarkPostgres measures what a request pays the store on a loopback PostgreSQL,
// beside the bare round trip (SELECT 1) on the same pool: a first request (Claim, then
// Complete with a 1 KiB sealed response) and a replay (Claim of a completed key).
// round-trips/op counts the writes on the connections (pgx sends a prepared
// statement's Bind and Execute in one write, then waits for the answer) and
// statements/op the statements: the target is one round trip to claim and one to
// complete.
func BenchmarkPostgres(b *testing.B) {
	srv := testserver.Postgres(b)
	var writes writeCounter
	var queries queryCounter
	pool := newPool(b, srv.URL, func(c *pgxpool.Config) {
		c.ConnConfig.DialFunc = writes.dial
		c.ConnConfig.Tracer = &queries
	})
	s := newStore(b, pool, "")
	ctx := context.Background()
	fp := make([]byte, 32)
	response := make([]byte, 1024)

	run := func(b *testing.B, call func() error) {
		b.ReportAllocs()
		if err := call(); err != nil { // prepares the statements on the connection
			b.Fatal(err)
		}
		w, q := writes.n.Load(), queries.n.Load()
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(writes.n.Load()-w)/float64(b.N), "round-trips/op")
		b.ReportMetric(float64(queries.n.Load()-q)/float64(b.N), "statements/op")
	}
	b.Run("baseline-select-1", func(b *testing.B) {
		run(b, func() error {
			var n int
			return pool.QueryRow(ctx, "SELECT 1").Scan(&n)
		})
	})
	var n atomic.Int64
	b.Run("claim-complete", func(b *testing.B) {
		run(b, func() error {
			key := fmt.Sprint("first-", n.Add(1))
			c, err := s.Claim(ctx, key, "tok", fp, t0, lease)
			if err != nil {
				return err
			}
			if !c.Acquired {
				return fmt.Errorf("Claim of a new key: not acquired")
			}
			return s.Complete(ctx, key, "tok", response, t0, ttl)
		})
	})
	b.Run("replay", func(b *testing.B) {
		run(b, func() error {
			c, err := s.Claim(ctx, "first-1", "tok2", fp, t0, lease)
			if err == nil && !c.Completed {
				err = fmt.Errorf("Claim of a completed key: got %+v", c)
			}
			return err
		})
	})
}

// BenchmarkMiddlewarePostgres is the middleware's cost per request on this store,
// beside the bare handler; round-trips/op counts the writes on the connections.
func BenchmarkMiddlewarePostgres(b *testing.B) {
	srv := testserver.Postgres(b)
	var writes writeCounter
	pool := newPool(b, srv.URL, func(c *pgxpool.Config) { c.ConnConfig.DialFunc = writes.dial })
	idempotencytest.RunMiddlewareBenchmarks(b, newStore(b, pool, ""), writes.n.Load)
}
