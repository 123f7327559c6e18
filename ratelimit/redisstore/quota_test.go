package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/internal/testserver"
	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/redisstore"
)

// TestQuotaSpendRefusedBeforeRedis: arguments the store refuses never reach Redis; the
// client's hook answers every command with errReached instead of sending it.
func TestQuotaSpendRefusedBeforeRedis(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = c.Close() })
	c.AddHook(refuseHook{})
	s := newQuotaStore(t, c, "")
	ctx, later := context.Background(), time.Now().Add(time.Hour)
	tests := []struct {
		name     string
		limit    int64
		expireAt time.Time
		wantErr  error
	}{
		{"limit zero", 0, later, ratelimit.ErrInvalidConfig},
		{"limit negative", -1, later, ratelimit.ErrInvalidConfig},
		{"limit above 2^53-1", redisstore.MaxQuotaLimit + 1, later, ratelimit.ErrInvalidConfig},
		{"zero expireAt", 10, time.Time{}, ratelimit.ErrInvalidConfig},
		{"valid: limit 2^53-1", redisstore.MaxQuotaLimit, later, errReached},
		{"valid: limit 1", 1, later, errReached},
		{"valid: expireAt past", 1, time.Unix(0, 0), errReached},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, allowed, err := s.Spend(ctx, "k", 1, tt.limit, tt.expireAt)
			if allowed || !errors.Is(err, tt.wantErr) {
				t.Errorf("got allowed %v err %v, want refused with %v", allowed, err, tt.wantErr)
			}
		})
	}
}

var errReached = errors.New("command reached the client")

type refuseHook struct{}

func (refuseHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (refuseHook) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(context.Context, redis.Cmder) error { return errReached }
}
func (refuseHook) ProcessPipelineHook(redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(context.Context, []redis.Cmder) error { return errReached }
}

func TestQuotaKeyIsHashedWithPrefixAndExpiry(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	s := newQuotaStore(t, c, "")
	ctx := context.Background()
	expireAt := time.Now().Add(90 * time.Minute).Truncate(time.Millisecond)
	if _, _, err := s.Spend(ctx, "tenant-7:2026-11", 3, 10, expireAt); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("tenant-7:2026-11"))
	want := redisstore.DefaultPrefix + "quota:" + hex.EncodeToString(sum[:])
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != want {
		t.Fatalf("got keys %q, want [%q]", keys, want)
	}
	if v, err := c.Get(ctx, want).Result(); err != nil || v != "3" {
		t.Errorf("got value %q (%v), want \"3\"", v, err)
	}
	at, err := c.PExpireTime(ctx, want).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := time.UnixMilli(int64(at / time.Millisecond)); !got.Equal(expireAt) {
		t.Errorf("got PEXPIRETIME %v, want expireAt %v", got, expireAt)
	}
}

func TestQuotaTwoStoresShareOneCounter(t *testing.T) {
	srv := testserver.Redis(t)
	a := newQuotaStore(t, newClient(t, srv.Addr), "shared:")
	b := newQuotaStore(t, newClient(t, srv.Addr), "shared:")
	other := newQuotaStore(t, newClient(t, srv.Addr), "other:")
	ctx, expireAt := context.Background(), time.Now().Add(time.Hour)
	spent := 0
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		_, allowed, err := s.Spend(ctx, "tenant-1", 1, 4, expireAt)
		if err != nil {
			t.Fatal(err)
		}
		if allowed {
			spent++
		}
	}
	if spent != 4 {
		t.Errorf("got %d spent across two stores, want one shared limit of 4", spent)
	}
	if count, allowed, err := other.Spend(ctx, "tenant-1", 1, 4, expireAt); err != nil || !allowed || count != 1 {
		t.Errorf("another prefix: got count %d allowed %v err %v, want its own counter at 1", count, allowed, err)
	}
}

// TestQuotaAndStoreUnderOnePrefix: a quota counter and a GCRA limit with the same
// prefix and key are two Redis keys; neither reads the other's value.
func TestQuotaAndStoreUnderOnePrefix(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	rs, qs := newStore(t, c, "same:"), newQuotaStore(t, c, "same:")
	ctx, expireAt := context.Background(), time.Now().Add(time.Hour)
	l := ratelimit.Limit{Rate: 0.5, Burst: 2}
	for i := range 3 {
		r, err := rs.Allow(ctx, "tenant-1", 1, l)
		if err != nil {
			t.Fatal(err)
		}
		count, allowed, err := qs.Spend(ctx, "tenant-1", 1, 3, expireAt)
		if err != nil {
			t.Fatal(err)
		}
		if wantAllowed := i < 2; r.Allowed != wantAllowed {
			t.Errorf("Allow %d: got allowed %v, want %v", i, r.Allowed, wantAllowed)
		}
		if !allowed || count != int64(i+1) {
			t.Errorf("Spend %d: got count %d allowed %v, want count %d allowed", i, count, allowed, i+1)
		}
	}
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 2 {
		t.Errorf("got %d keys (%v), want 2", n, err)
	}
}

func TestQuotaScriptReloadedAfterFlush(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	s := newQuotaStore(t, c, "")
	ctx, expireAt := context.Background(), time.Now().Add(time.Hour)
	if _, _, err := s.Spend(ctx, "k", 1, 5, expireAt); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if count, allowed, err := s.Spend(ctx, "k", 1, 5, expireAt); err != nil || !allowed || count != 2 {
		t.Errorf("after SCRIPT FLUSH: got count %d allowed %v err %v, want count 2 allowed (NOSCRIPT falls back to EVAL)", count, allowed, err)
	}
}

// TestQuotaWrongTypeFailsClosed: a key that holds something else is an error, not an
// allowed spend.
func TestQuotaWrongTypeFailsClosed(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	s := newQuotaStore(t, c, "")
	ctx := context.Background()
	sum := sha256.Sum256([]byte("k"))
	if err := c.Set(ctx, redisstore.DefaultPrefix+"quota:"+hex.EncodeToString(sum[:]), "not a number", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, allowed, err := s.Spend(ctx, "k", 1, 5, time.Now().Add(time.Hour)); err == nil || allowed {
		t.Errorf("got allowed %v err %v, want refused with an error", allowed, err)
	}
}

// TestQuotaThroughMiddlewareReplicas: two middlewares (replicas) with their own limiters
// and one Redis share one daily quota.
func TestQuotaThroughMiddlewareReplicas(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	replica := func() http.Handler {
		lim, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 1000, Burst: 1000})
		if err != nil {
			t.Fatal(err)
		}
		m, err := ratelimit.New(ratelimit.Config{Limiter: lim, Store: newStore(t, c, "mw:"), QuotaStore: newQuotaStore(t, c, "mw:"),
			Quotas: []ratelimit.Quota{{Name: "daily", Limit: 3, Period: ratelimit.Day}}})
		if err != nil {
			t.Fatal(err)
		}
		return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	}
	a, b := replica(), replica()
	for i, tt := range []struct {
		h    http.Handler
		want int
	}{{a, 200}, {b, 200}, {a, 200}, {b, 429}, {a, 429}} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/1", nil)
		r.RemoteAddr = "203.0.113.9:1"
		w := httptest.NewRecorder()
		tt.h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("request %d: status %d, want %d", i+1, w.Code, tt.want)
		}
		if tt.want == 429 && !strings.Contains(w.Header().Values("RateLimit")[0], `"daily";r=0`) {
			t.Errorf("request %d: RateLimit %q, want the daily quota exhausted", i+1, w.Header().Values("RateLimit"))
		}
	}
}
