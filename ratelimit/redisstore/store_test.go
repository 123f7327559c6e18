package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/internal/testserver"
	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/ratelimittest"
	"github.com/phikit/phikit/ratelimit/redisstore"
)

func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1, // a dead Redis should fail fast, not be retried
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t testing.TB, c redis.UniversalClient, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newQuotaStore(t testing.TB, c redis.UniversalClient, prefix string) *redisstore.QuotaStore {
	t.Helper()
	s, err := redisstore.NewQuotaStore(redisstore.QuotaConfig{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs both conformance suites on one Redis server; TestCluster runs
// them on a cluster.
func TestConformance(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	var n atomic.Int64
	t.Run("store", func(t *testing.T) {
		ratelimittest.RunStoreTests(t, func(t *testing.T) (ratelimit.Store, func(time.Duration)) {
			s := newStore(t, c, fmt.Sprintf("test%d:", n.Add(1)))
			return s, s.Advance
		})
	})
	t.Run("quota store", func(t *testing.T) {
		ratelimittest.RunQuotaStoreTests(t, func(t *testing.T) (ratelimit.QuotaStore, func(time.Duration)) {
			s := newQuotaStore(t, c, fmt.Sprintf("test%d:", n.Add(1)))
			return s, s.Advance
		})
	})
}

func TestNewErrors(t *testing.T) {
	if _, err := redisstore.New(redisstore.Config{}); !errors.Is(err, redisstore.ErrInvalidConfig) {
		t.Errorf("New without Client: got %v, want ErrInvalidConfig", err)
	}
	if _, err := redisstore.NewQuotaStore(redisstore.QuotaConfig{}); !errors.Is(err, redisstore.ErrInvalidConfig) {
		t.Errorf("NewQuotaStore without Client: got %v, want ErrInvalidConfig", err)
	}
}

func TestKeyIsHashedWithPrefixAndTTL(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	s := newStore(t, c, "")
	ctx := context.Background()
	if _, err := s.Allow(ctx, "ip:203.0.113.9", 1, ratelimit.Limit{Rate: 1, Burst: 10}); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// sha256("ip:203.0.113.9")
	if len(keys) != 1 || len(keys[0]) != len(redisstore.DefaultPrefix)+64 || keys[0][:len(redisstore.DefaultPrefix)] != redisstore.DefaultPrefix {
		t.Fatalf("keys %q, want one DefaultPrefix + 64 hex digits", keys)
	}
	ttl, err := c.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Second {
		t.Errorf("TTL %v, want the time until TAT: (0, 1s]", ttl)
	}
}

func TestTwoStoresShareOneLimit(t *testing.T) {
	srv := testserver.Redis(t)
	a := newStore(t, newClient(t, srv.Addr), "shared:")
	b := newStore(t, newClient(t, srv.Addr), "shared:")
	ctx, l := context.Background(), ratelimit.Limit{Rate: 0.5, Burst: 4}
	allowed := 0
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		r, err := s.Allow(ctx, "tenant-1", 1, l)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != l.Burst {
		t.Errorf("%d allowed across two stores, want one shared burst of %d", allowed, l.Burst)
	}
}

func TestScriptReloadedAfterFlush(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	s := newStore(t, c, "")
	ctx, l := context.Background(), ratelimit.Limit{Rate: 1, Burst: 5}
	if _, err := s.Allow(ctx, "k", 1, l); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Allow(ctx, "k", 1, l); err != nil || !r.Allowed || r.Remaining != 3 {
		t.Errorf("after SCRIPT FLUSH: %+v, %v; want allowed, Remaining 3 (NOSCRIPT falls back to EVAL)", r, err)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func get(h http.Handler) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
	req.RemoteAddr = "203.0.113.9:1234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestRedisStopsAndRestarts stops Redis under three middlewares, one per failure mode,
// then restarts it and checks that each goes back to the store once the breaker's
// cool-down has passed.
func TestRedisStopsAndRestarts(t *testing.T) {
	srv := testserver.Redis(t)
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	type mw struct {
		mode ratelimit.StoreErrorMode
		h    http.Handler
	}
	var mws []mw
	for _, mode := range []ratelimit.StoreErrorMode{ratelimit.FallbackLocal, ratelimit.FailClosed, ratelimit.InsecureFailOpen} {
		lim, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 0.5, Burst: 2, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ratelimit.New(ratelimit.Config{
			Limiter:          lim,
			Store:            newStore(t, newClient(t, srv.Addr), mode.String()+":"),
			OnStoreError:     mode,
			BreakerThreshold: 2,
			BreakerCooldown:  10 * time.Second,
			Now:              clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		mws = append(mws, mw{mode, m.Handler(ok)})
	}
	for _, m := range mws {
		if rec := get(m.h); rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit") == "" {
			t.Fatalf("%v, Redis up: status %d, RateLimit %q; want 204 with RateLimit", m.mode, rec.Code, rec.Header().Get("RateLimit"))
		}
	}

	srv.Stop(t)
	for _, m := range mws {
		var codes []int
		for range 4 { // two store errors open the breaker, two more skip the store
			rec := get(m.h)
			codes = append(codes, rec.Code)
			switch m.mode {
			case ratelimit.FailClosed:
				if rec.Header().Get("Retry-After") != "10" {
					t.Errorf("%v: Retry-After %q, want the cool-down, 10", m.mode, rec.Header().Get("Retry-After"))
				}
			case ratelimit.FallbackLocal:
				if rec.Header().Get("RateLimit") == "" {
					t.Errorf("%v: no RateLimit field from the local limiter", m.mode)
				}
			}
		}
		want := map[ratelimit.StoreErrorMode][]int{
			ratelimit.FallbackLocal:    {204, 204, 429, 429}, // local burst of 2, fresh
			ratelimit.FailClosed:       {503, 503, 503, 503},
			ratelimit.InsecureFailOpen: {204, 204, 204, 204},
		}[m.mode]
		if fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("%v, Redis down: statuses %v, want %v", m.mode, codes, want)
		}
	}

	srv.Start(t)
	// Still inside the cool-down: the store is not tried.
	for _, m := range mws {
		if m.mode == ratelimit.FailClosed {
			if rec := get(m.h); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("%v, breaker open: status %d, want 503", m.mode, rec.Code)
			}
		}
	}
	clock.Advance(11 * time.Second)
	for _, m := range mws {
		rec := get(m.h)
		// Redis came back empty: a fresh burst of 2, one spent now.
		if rec.Code != http.StatusNoContent || rec.Header().Get("RateLimit") != `"default";r=1;t=2` {
			t.Errorf("%v, Redis back: status %d, RateLimit %q; want 204 from the store, r=1",
				m.mode, rec.Code, rec.Header().Get("RateLimit"))
		}
	}
}

// countHook counts the commands and pipelines a client sends.
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
