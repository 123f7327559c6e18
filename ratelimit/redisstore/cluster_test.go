package redisstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/internal/testserver"
	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/ratelimittest"
)

func newClusterClient(t testing.TB, addrs []string) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:        addrs,
		MaxRetries:   -1,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestCluster runs both conformance suites through a *redis.ClusterClient on a real
// three-master Redis Cluster, and checks what the cluster adds: keys spread over the
// masters, one key per decision, and limits shared between stores.
func TestCluster(t *testing.T) {
	cluster := testserver.RedisCluster(t)
	c := newClusterClient(t, cluster.Addrs)
	var n atomic.Int64

	t.Run("store conformance", func(t *testing.T) {
		ratelimittest.RunStoreTests(t, func(t *testing.T) (ratelimit.Store, func(time.Duration)) {
			s := newStore(t, c, fmt.Sprintf("cluster%d:", n.Add(1)))
			return s, s.Advance
		})
	})
	t.Run("quota store conformance", func(t *testing.T) {
		ratelimittest.RunQuotaStoreTests(t, func(t *testing.T) (ratelimit.QuotaStore, func(time.Duration)) {
			s := newQuotaStore(t, c, fmt.Sprintf("cluster%d:", n.Add(1)))
			return s, s.Advance
		})
	})

	t.Run("keys spread over the masters, one key per decision", func(t *testing.T) {
		ctx := context.Background()
		counted := newClusterClient(t, cluster.Addrs)
		var cmds atomic.Int64
		counted.OnNewNode(func(node *redis.Client) { node.AddHook(countHook{&cmds}) })
		rs := newStore(t, counted, "spread:")
		qs := newQuotaStore(t, counted, "spread-quota:")
		const keys = 48
		// Warm up: load both scripts on every master, so NOSCRIPT retries do not count.
		for i := range keys {
			if _, err := rs.Allow(ctx, fmt.Sprintf("warm-%d", i), 1, ratelimit.Limit{Rate: 1, Burst: 5}); err != nil {
				t.Fatalf("warm-up Allow: %v", err)
			}
			if _, _, err := qs.Spend(ctx, fmt.Sprintf("warm-%d", i), 1, 5, time.Now().Add(time.Hour)); err != nil {
				t.Fatalf("warm-up Spend: %v", err)
			}
		}
		sizesBefore := dbSizes(t, cluster.Addrs)
		cmds.Store(0)
		for i := range keys {
			k := fmt.Sprintf("ip:198.51.100.%d", i)
			if r, err := rs.Allow(ctx, k, 1, ratelimit.Limit{Rate: 1, Burst: 5}); err != nil || !r.Allowed {
				t.Fatalf("Allow %q: got %+v, %v; want allowed (no CROSSSLOT)", k, r, err)
			}
			if _, ok, err := qs.Spend(ctx, k, 1, 5, time.Now().Add(time.Hour)); err != nil || !ok {
				t.Fatalf("Spend %q: got allowed %v, %v; want allowed (no CROSSSLOT)", k, ok, err)
			}
		}
		if got := cmds.Load(); got != 2*keys {
			t.Errorf("got %d commands for %d decisions, want one each", got, 2*keys)
		}
		sizesAfter := dbSizes(t, cluster.Addrs)
		total := int64(0)
		for i := range sizesAfter {
			added := sizesAfter[i] - sizesBefore[i]
			if added == 0 {
				t.Errorf("master %d got none of the %d new keys, want them spread over every master", i, 2*keys)
			}
			total += added
		}
		if total != 2*keys {
			t.Errorf("got %d new keys, want one per decision: %d", total, 2*keys)
		}
	})

	t.Run("two stores share one limit", func(t *testing.T) {
		ctx := context.Background()
		a := newStore(t, newClusterClient(t, cluster.Addrs[:1]), "shared:")
		b := newStore(t, newClusterClient(t, cluster.Addrs[2:]), "shared:")
		qa := newQuotaStore(t, newClusterClient(t, cluster.Addrs[:1]), "shared:")
		qb := newQuotaStore(t, newClusterClient(t, cluster.Addrs[2:]), "shared:")
		l, expireAt := ratelimit.Limit{Rate: 0.5, Burst: 4}, time.Now().Add(time.Hour)
		allowed, spent := 0, 0
		for i := range 10 {
			s, q := a, qa
			if i%2 == 1 {
				s, q = b, qb
			}
			r, err := s.Allow(ctx, "tenant-1", 1, l)
			if err != nil {
				t.Fatal(err)
			}
			if r.Allowed {
				allowed++
			}
			_, ok, err := q.Spend(ctx, "tenant-1", 1, 4, expireAt)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				spent++
			}
		}
		if allowed != l.Burst {
			t.Errorf("got %d allowed across two stores, want one shared burst of %d", allowed, l.Burst)
		}
		if spent != 4 {
			t.Errorf("got %d spent across two quota stores, want one shared limit of 4", spent)
		}
	})
}

// dbSizes returns the number of keys on each master.
func dbSizes(t *testing.T, addrs []string) []int64 {
	t.Helper()
	sizes := make([]int64, len(addrs))
	for i, addr := range addrs {
		n, err := newClient(t, addr).DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		sizes[i] = n
	}
	return sizes
}
