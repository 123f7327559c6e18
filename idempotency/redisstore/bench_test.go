package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/internal/testserver"
)

// BenchmarkRedis measures what a request pays the store on a loopback Redis, beside the
// bare round trip (PING) on the same client: a first request (Claim, then Complete with
// a 1 KiB sealed response) and a replay (Claim of a completed key). round-trips/op
// counts the commands sent: the target is one to claim and one to complete.
func BenchmarkRedis(b *testing.B) {
	srv := testserver.Redis(b)
	c := newClient(b, srv.Addr)
	var cmds atomic.Int64
	c.AddHook(countHook{&cmds})
	s := newStore(b, c)
	ctx := context.Background()
	fp := make([]byte, 32)
	response := make([]byte, 1024)

	run := func(b *testing.B, call func(i int) error) {
		b.ReportAllocs()
		if err := call(-1); err != nil { // loads the scripts
			b.Fatal(err)
		}
		start := cmds.Load()
		i := 0
		for b.Loop() {
			if err := call(i); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(cmds.Load()-start)/float64(i), "round-trips/op")
	}
	b.Run("baseline-ping", func(b *testing.B) {
		run(b, func(int) error { return c.Ping(ctx).Err() })
	})
	var n atomic.Int64
	b.Run("claim-complete", func(b *testing.B) {
		run(b, func(int) error {
			key := fmt.Sprint("first-", n.Add(1))
			cl, err := s.Claim(ctx, key, "tok", fp, t0, lease)
			if err != nil {
				return err
			}
			if !cl.Acquired {
				return fmt.Errorf("Claim of a new key: not acquired")
			}
			return s.Complete(ctx, key, "tok", response, t0, ttl)
		})
	})
	b.Run("replay", func(b *testing.B) {
		run(b, func(int) error {
			cl, err := s.Claim(ctx, "first-1", "tok2", fp, t0, lease)
			if err == nil && !cl.Completed {
				err = fmt.Errorf("Claim of a completed key: got %+v", cl)
			}
			return err
		})
	})
}

// BenchmarkMiddlewareRedis is the middleware's cost per request on this store, beside
// the bare handler.
func BenchmarkMiddlewareRedis(b *testing.B) {
	srv := testserver.Redis(b)
	c := newClient(b, srv.Addr)
	var cmds atomic.Int64
	c.AddHook(countHook{&cmds})
	idempotencytest.RunMiddlewareBenchmarks(b, newStore(b, c), cmds.Load)
}

type countHook struct{ n *atomic.Int64 }

func (countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
