package redisrevocation_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/redisrevocation"
	"github.com/phikit/phikit/authn/revocationtest"
	"github.com/phikit/phikit/internal/testserver"
)

const (
	iss = "https://login.example-hospital.org/"
	jti = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
)

// newClient returns a client of a fresh redis-server, closed when the test ends.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testserver.Redis(t).Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func newStore(t testing.TB, cfg redisrevocation.Config) *redisrevocation.Store {
	t.Helper()
	s, err := redisrevocation.New(cfg)
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	return s
}

// wantKey is the key of issuer/jti as documented, computed independently.
func wantKey(prefix, issuer, jti string) string {
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, uint64(len(issuer)))
	h.Write([]byte(issuer))
	h.Write([]byte(jti))
	return prefix + hex.EncodeToString(h.Sum(nil))
}

// TestConformance runs the suite on one Redis, each store under a prefix of its own.
func TestConformance(t *testing.T) {
	rdb := newClient(t)
	var n atomic.Int64
	revocationtest.Run(t, func(t *testing.T, now func() time.Time) authn.Revocations {
		return newStore(t, redisrevocation.Config{
			Client: rdb,
			Prefix: fmt.Sprintf("conformance:%d:", n.Add(1)),
			Now:    now,
		})
	})
}

// TestEveryReplica: two stores with clients of their own, as on two replicas, see each
// other's revocations.
func TestEveryReplica(t *testing.T) {
	addr := testserver.Redis(t).Addr
	ctx := context.Background()
	var replicas [2]*redisrevocation.Store
	for i := range replicas {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = rdb.Close() })
		replicas[i] = newStore(t, redisrevocation.Config{Client: rdb})
	}
	until := time.Now().Add(time.Hour)
	for i, from := range replicas {
		id := fmt.Sprintf("revoked-on-%d", i)
		if err := from.Revoke(ctx, iss, id, until); err != nil {
			t.Fatalf("replica %d: Revoke = %v", i, err)
		}
		for j, on := range replicas {
			if got, err := on.Revoked(ctx, iss, id); !got || err != nil {
				t.Errorf("replica %d: Revoked(%q) = %v, %v, want true, nil", j, id, got, err)
			}
		}
	}
	// Another prefix is another list.
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	other := newStore(t, redisrevocation.Config{Client: rdb, Prefix: "other:"})
	if got, err := other.Revoked(ctx, iss, "revoked-on-0"); got || err != nil {
		t.Errorf("other prefix: Revoked = %v, %v, want false, nil", got, err)
	}
}

// TestUnreachable: without an answer from Redis, both methods fail with ErrRedis and
// say nothing of the token.
func TestUnreachable(t *testing.T) {
	closed := newClient(t)
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := ln.Addr().String()
	_ = ln.Close()
	down := redis.NewClient(&redis.Options{Addr: nobody, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })

	const secretJTI = "do-not-log-this-jti"
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
	}{
		{"closed client", closed},
		{"nothing listening", down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, redisrevocation.Config{Client: tc.client})
			got, err := s.Revoked(ctx, iss, secretJTI)
			if !errors.Is(err, redisrevocation.ErrRedis) {
				t.Fatalf("Revoked = %v, %v, want an error wrapping ErrRedis", got, err)
			}
			err2 := s.Revoke(ctx, iss, secretJTI, time.Now().Add(time.Hour))
			if !errors.Is(err2, redisrevocation.ErrRedis) {
				t.Fatalf("Revoke = %v, want an error wrapping ErrRedis", err2)
			}
			for _, e := range []error{err, err2} {
				if msg := e.Error(); strings.Contains(msg, secretJTI) || strings.Contains(msg, iss) {
					t.Errorf("error %q contains the jti or the issuer", msg)
				}
			}
		})
	}
}

// TestStoredEntry reads back what Revoke wrote: the hashed key, the until rounded up to
// the microsecond, and Redis's own expiry a minute after until, rounded up to the
// millisecond.
func TestStoredEntry(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	maxUntil := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		until      time.Time
		wantMicro  int64
		wantExpiry time.Time
	}{
		{"whole millisecond", t0.Add(time.Hour), t0.Add(time.Hour).UnixMicro(), t0.Add(time.Hour + time.Minute)},
		{"a nanosecond past", t0.Add(time.Hour + 1), t0.Add(time.Hour).UnixMicro() + 1, t0.Add(time.Hour + time.Minute + time.Millisecond)},
		{"far future", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), maxUntil.UnixMicro(), maxUntil.Add(time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "stored:" + tc.name + ":"
			s := newStore(t, redisrevocation.Config{Client: rdb, Prefix: prefix, Now: func() time.Time { return t0 }})
			if err := s.Revoke(ctx, iss, jti, tc.until); err != nil {
				t.Fatalf("Revoke = %v", err)
			}
			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			if err != nil {
				t.Fatal(err)
			}
			if want := wantKey(prefix, iss, jti); len(keys) != 1 || keys[0] != want {
				t.Fatalf("keys = %q, want [%q]", keys, want)
			}
			if strings.Contains(keys[0], jti) {
				t.Errorf("key %q contains the jti", keys[0])
			}
			v, err := rdb.Get(ctx, keys[0]).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := v, strconv.FormatInt(tc.wantMicro, 10); got != want {
				t.Errorf("value = %s, want %s", got, want)
			}
			exp, err := rdb.PExpireTime(ctx, keys[0]).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := exp.Milliseconds(), tc.wantExpiry.UnixMilli(); got != want {
				t.Errorf("PEXPIRETIME = %d, want %d (%s later)", got, want, time.Duration(want-got)*time.Millisecond)
			}
		})
	}
}

// TestForeignEntry: a key under the prefix that this package did not write is an error,
// never an answer.
func TestForeignEntry(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	s := newStore(t, redisrevocation.Config{Client: rdb})
	key := wantKey(redisrevocation.DefaultPrefix, iss, jti)
	for _, tc := range []struct {
		name       string
		write      func() error
		wantRevoke bool // whether Revoke fails too
	}{
		{"not a number", func() error { return rdb.Set(ctx, key, "yes", 0).Err() }, false},
		{"a hash", func() error { return rdb.HSet(ctx, key, "f", "v").Err() }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rdb.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Revoked(ctx, iss, jti); !errors.Is(err, redisrevocation.ErrRedis) {
				t.Errorf("Revoked = %v, %v, want an error wrapping ErrRedis", got, err)
			}
			err := s.Revoke(ctx, iss, jti, time.Now().Add(time.Hour))
			if tc.wantRevoke && !errors.Is(err, redisrevocation.ErrRedis) {
				t.Errorf("Revoke = %v, want an error wrapping ErrRedis", err)
			}
			if !tc.wantRevoke {
				// A revocation replaces what was there.
				if err != nil {
					t.Fatalf("Revoke = %v, want nil", err)
				}
				if got, err := s.Revoked(ctx, iss, jti); !got || err != nil {
					t.Errorf("Revoked after Revoke = %v, %v, want true, nil", got, err)
				}
			}
		})
	}
}

// TestScriptCacheFlushed: Revoke still works after Redis has lost its scripts (a
// restart, a failover, SCRIPT FLUSH).
func TestScriptCacheFlushed(t *testing.T) {
	rdb := newClient(t)
	ctx := context.Background()
	s := newStore(t, redisrevocation.Config{Client: rdb})
	until := time.Now().Add(time.Hour)
	for i := range 2 {
		if err := rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprint(i)
		if err := s.Revoke(ctx, iss, id, until); err != nil {
			t.Fatalf("Revoke after SCRIPT FLUSH = %v", err)
		}
		if got, err := s.Revoked(ctx, iss, id); !got || err != nil {
			t.Errorf("Revoked = %v, %v, want true, nil", got, err)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := redisrevocation.New(redisrevocation.Config{}); err == nil {
		t.Error("New without a Client = nil error, want an error")
	}
}
