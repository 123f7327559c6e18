package redisrevocation_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/authn/redisrevocation"
)

// commandCounter counts the commands a client sends: the round trips of a call.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkRedisRevoked measures the check paid by every request against a loopback
// Redis holding 10,000 entries, with a bare GET as the baseline (the round trip any
// Redis deny-list pays), and reports the commands sent per check (roundtrips/op: 1).
func BenchmarkRedisRevoked(b *testing.B) {
	const n = 10_000
	const iss = "https://login.example-hospital.org/"
	rdb := newClient(b)
	ctx := context.Background()
	s := newStore(b, redisrevocation.Config{Client: rdb})
	until := time.Now().Add(time.Hour)
	for i := range n {
		if err := s.Revoke(ctx, iss, fmt.Sprintf("%08x-5e6f-4a7b-8c9d-0e1f2a3b4c5d", i), until); err != nil {
			b.Fatal(err)
		}
	}
	hit := fmt.Sprintf("%08x-5e6f-4a7b-8c9d-0e1f2a3b4c5d", n/2)
	miss := "ffffffff-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	var counter commandCounter
	rdb.AddHook(&counter)

	b.Run("baseline-get", func(b *testing.B) {
		b.ReportAllocs()
		key := wantKey(redisrevocation.DefaultPrefix, iss, hit)
		for b.Loop() {
			if err := rdb.Get(ctx, key).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, bc := range []struct {
		name, jti string
		want      bool
	}{{"hit", hit, true}, {"miss", miss, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			start := counter.n.Load()
			for b.Loop() {
				if got, err := s.Revoked(ctx, iss, bc.jti); got != bc.want || err != nil {
					b.Fatalf("Revoked = %v, %v", got, err)
				}
			}
			b.ReportMetric(float64(counter.n.Load()-start)/float64(b.N), "roundtrips/op")
		})
	}
}
