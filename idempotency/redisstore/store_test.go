package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/idempotency/redisstore"
	"github.com/phikit/phikit/internal/testserver"
)

// t0 is the fake clock's start. It is years away from the Redis server's clock on
// purpose: records are compared with the caller's time only.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

const (
	lease = 30 * time.Second
	ttl   = 24 * time.Hour
)

func newClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		MaxRetries:   -1,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolSize:     64,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

var prefixes atomic.Int64

// newStore returns a store on c with a prefix of its own.
func newStore(tb testing.TB, c redis.UniversalClient) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: fmt.Sprintf("test%d:", prefixes.Add(1))})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestNew(t *testing.T) {
	if _, err := redisstore.New(redisstore.Config{}); !errors.Is(err, redisstore.ErrInvalidConfig) {
		t.Errorf("New without Client: %v, want ErrInvalidConfig", err)
	}
	if _, err := redisstore.New(redisstore.Config{Client: redis.NewClient(&redis.Options{})}); err != nil {
		t.Errorf("New with a Client: %v, want nil", err)
	}
}

func TestRedis(t *testing.T) {
	srv := testserver.Redis(t)
	c := newClient(t, srv.Addr)
	t.Run("Conformance", func(t *testing.T) {
		idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
	})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *redis.Client)
	}{
		{"KeyPrefixAndExpiry", testKeyPrefixAndExpiry},
		{"PrefixesAreSeparate", testPrefixesAreSeparate},
		{"ScriptReloadedAfterFlush", testScriptReloadedAfterFlush},
		{"Canceled", testCanceled},
		{"CorruptRecord", testCorruptRecord},
		{"InvalidDurations", testInvalidDurations},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// testKeyPrefixAndExpiry: the record is at Prefix + key, unchanged, and Redis expires it
// the lease (then the ttl) plus ExpiryMargin after the write, whatever the caller's
// clock says.
func testKeyPrefixAndExpiry(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s, err := redisstore.New(redisstore.Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	key := "c2NvcGVkLWFuZC1oYXNoZWQ" + fmt.Sprint(prefixes.Add(1))
	rkey := redisstore.DefaultPrefix + key
	if _, err := s.Claim(ctx, key, "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	checkTTL := func(want time.Duration) {
		t.Helper()
		got, err := c.PTTL(ctx, rkey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got > want || got < want-5*time.Second {
			t.Errorf("PTTL %s: got %v, want about %v", rkey, got, want)
		}
	}
	checkTTL(lease + redisstore.ExpiryMargin)
	// The suite allows a millisecond; this store keeps the caller's nanoseconds.
	if cl, err := s.Claim(ctx, key, "x", nil, t0.Add(time.Second), lease); err != nil || !cl.LeaseExpires.Equal(t0.Add(lease)) {
		t.Errorf("Claim of the live record: got LeaseExpires %v, %v; want %v exactly", cl.LeaseExpires, err, t0.Add(lease))
	}
	if err := s.Complete(ctx, key, "a", []byte("r"), t0, ttl); err != nil {
		t.Fatal(err)
	}
	checkTTL(ttl + redisstore.ExpiryMargin)
	if err := c.Del(ctx, rkey).Err(); err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Claim(ctx, key, "b", []byte("fp2"), t0, lease); err != nil || !cl.Acquired {
		t.Errorf("Claim after the key was deleted: got %+v, %v; want acquired", cl, err)
	}
}

func testPrefixesAreSeparate(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	a, b := newStore(t, c), newStore(t, c)
	for _, s := range []*redisstore.Store{a, b} {
		if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
			t.Errorf("Claim on its own prefix: got %+v, %v; want acquired", cl, err)
		}
	}
	// Same prefix, another Store value: one record.
	same, err := redisstore.New(redisstore.Config{Client: c, Prefix: fmt.Sprintf("test%d:", prefixes.Load())})
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := same.Claim(ctx, "k", "b", []byte("fp"), t0, lease); err != nil || cl.Acquired {
		t.Errorf("Claim on a shared prefix: got %+v, %v; want the record held by the other store", cl, err)
	}
}

// testScriptReloadedAfterFlush: each script is sent again with EVAL when Redis answers
// NOSCRIPT (a restarted or flushed Redis).
func testScriptReloadedAfterFlush(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	flush := func() {
		t.Helper()
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	flush()
	if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
		t.Fatalf("Claim after SCRIPT FLUSH: got %+v, %v; want acquired", cl, err)
	}
	flush()
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); err != nil {
		t.Fatalf("Complete after SCRIPT FLUSH: %v", err)
	}
	if _, err := s.Claim(ctx, "k2", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	flush()
	if err := s.Release(ctx, "k2", "a", t0); err != nil {
		t.Fatalf("Release after SCRIPT FLUSH: %v", err)
	}
}

// testCanceled: a cancelled context returns its error and writes nothing.
func testCanceled(t *testing.T, c *redis.Client) {
	s := newStore(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); !errors.Is(err, context.Canceled) {
		t.Errorf("Claim: got %v, want context.Canceled", err)
	}
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); !errors.Is(err, context.Canceled) {
		t.Errorf("Complete: got %v, want context.Canceled", err)
	}
	if err := s.Release(ctx, "k", "a", t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Release: got %v, want context.Canceled", err)
	}
	if cl, err := s.Claim(context.Background(), "k", "b", []byte("fp"), t0, lease); err != nil || !cl.Acquired {
		t.Errorf("Claim after the cancelled one: got %+v, %v; want acquired (nothing was written)", cl, err)
	}
	// A deadline that passes during the call.
	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if _, err := s.Claim(ctx, "k3", "a", []byte("fp"), t0, lease); err == nil {
		t.Error("Claim with an expired deadline: got nil error, want one")
	}
}

// testCorruptRecord: a key that does not hold a record this package wrote is an error,
// never a claim, and the error does not quote it.
func testCorruptRecord(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	prefix := fmt.Sprintf("test%d:", prefixes.Load())
	for _, tc := range []struct {
		name   string
		fields []any
	}{
		{"unknown state", []any{"st", "x", "fp", "fp", "us", "9999999999", "un", "0"}},
		{"no fingerprint", []any{"st", "p", "us", "9999999999", "un", "0"}},
		{"bad nanoseconds", []any{"st", "p", "fp", "fp", "us", "9999999999", "un", "1e9x"}},
	} {
		key := strings.ReplaceAll(tc.name, " ", "-")
		if err := c.HSet(ctx, prefix+key, tc.fields...).Err(); err != nil {
			t.Fatal(err)
		}
		if cl, err := s.Claim(ctx, key, "a", []byte("SECRET-fp"), t0, lease); err == nil || cl.Acquired || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: got %+v, %v; want an error without the record's content", tc.name, cl, err)
		}
	}
	if err := c.Set(ctx, prefix+"string", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Claim(ctx, "string", "a", []byte("fp"), t0, lease); err == nil || cl.Acquired {
		t.Errorf("a string key: got %+v, %v; want an error", cl, err)
	}
}

func testInvalidDurations(t *testing.T, c *redis.Client) {
	ctx := context.Background()
	s := newStore(t, c)
	for _, d := range []time.Duration{0, -time.Second} {
		if cl, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, d); err == nil || cl.Acquired {
			t.Errorf("Claim with lease %v: got %+v, %v; want an error", d, cl, err)
		}
	}
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := s.Complete(ctx, "k", "a", []byte("r"), t0, d); err == nil {
			t.Errorf("Complete with ttl %v: got nil, want an error", d)
		}
	}
	// The longest lease is accepted (its Redis expiry is capped).
	if cl, err := s.Claim(ctx, "long", "a", []byte("fp"), t0, time.Duration(1<<63-1)); err != nil || !cl.Acquired {
		t.Errorf("Claim with the longest lease: got %+v, %v; want acquired", cl, err)
	}
}
