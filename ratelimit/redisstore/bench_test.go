package redisstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/internal/testserver"
	"github.com/phikit/phikit/ratelimit"
)

// benchKeys are client addresses, as a limiter by address sees them.
var benchKeys = func() []string {
	k := make([]string, 1024)
	for i := range k {
		k[i] = fmt.Sprintf("ip:198.51.%d.%d", i/256, i%256)
	}
	return k
}()

// benchCallers is the number of goroutines per GOMAXPROCS in the parallel benchmarks.
const benchCallers = 32

// BenchmarkRedis measures one caller's decisions through a local Redis, one round trip
// each, beside the floor: a PING on the same client. round-trips/op counts the commands
// sent (EVALSHA), which must be 1.
func BenchmarkRedis(b *testing.B) {
	srv := testserver.Redis(b)
	c := newBenchClient(b, srv.Addr, 1)
	var cmds atomic.Int64
	c.AddHook(countHook{&cmds})
	ops := benchOps(b, c)
	for _, name := range []string{"ping", "allow", "spend"} {
		b.Run(name, func(b *testing.B) {
			op := ops[name]
			if err := op(context.Background(), 0); err != nil { // load the script
				b.Fatal(err)
			}
			cmds.Store(0)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := op(context.Background(), i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(cmds.Load())/float64(i), "round-trips/op")
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkRedisParallel is the throughput of one Redis under many concurrent callers
// (benchCallers × GOMAXPROCS goroutines sharing one client, with a connection each so
// their commands queue in Redis, not in the pool): ops/s is decisions per second for
// allow and spend, and round trips per second for the ping baseline.
func BenchmarkRedisParallel(b *testing.B) {
	srv := testserver.Redis(b)
	c := newBenchClient(b, srv.Addr, benchCallers*runtime.GOMAXPROCS(0))
	ops := benchOps(b, c)
	for _, name := range []string{"ping", "allow", "spend"} {
		b.Run(name, func(b *testing.B) {
			op := ops[name]
			if err := op(context.Background(), 0); err != nil {
				b.Fatal(err)
			}
			var worker atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(benchCallers)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx, i := context.Background(), int(worker.Add(1))*7919
				for pb.Next() {
					if err := op(ctx, i); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// newBenchClient returns a client with a connection per caller and timeouts long
// enough that a busy machine slows a benchmark down rather than failing it.
func newBenchClient(b *testing.B, addr string, callers int) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		PoolSize:     callers,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 10 * time.Second,
	})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// benchOps returns the operations the benchmarks time: a PING, a GCRA decision and a
// quota spend, each on the i-th key of benchKeys, with limits high enough that every
// decision is allowed and writes.
func benchOps(b *testing.B, c redis.UniversalClient) map[string]func(context.Context, int) error {
	s := newStore(b, c, "bench:")
	q := newQuotaStore(b, c, "bench:")
	l := ratelimit.Limit{Rate: 1e6, Burst: 1000}
	expireAt := time.Now().Add(time.Hour)
	return map[string]func(context.Context, int) error{
		"ping": func(ctx context.Context, _ int) error { return c.Ping(ctx).Err() },
		"allow": func(ctx context.Context, i int) error {
			_, err := s.Allow(ctx, benchKeys[i&1023], 1, l)
			return err
		},
		"spend": func(ctx context.Context, i int) error {
			_, _, err := q.Spend(ctx, benchKeys[i&1023], 1, quotaNeverReached, expireAt)
			return err
		},
	}
}

// quotaNeverReached is a limit the benchmarks never reach.
const quotaNeverReached = 1 << 50
