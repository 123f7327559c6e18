package redisreplay_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
	"github.com/phikit/phikit/authn/dpop/dpoptest"
	"github.com/phikit/phikit/authn/dpop/redisreplay"
	"github.com/phikit/phikit/internal/testserver"
	"github.com/redis/go-redis/v9"
)

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newStore(t *testing.T, client redis.UniversalClient, prefix string) *redisreplay.Store {
	t.Helper()
	s, err := redisreplay.New(redisreplay.Config{Client: client, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := testserver.Redis(t)
	client := newClient(t, srv.Addr)
	var n atomic.Int64
	dpoptest.Run(t, func(t *testing.T) dpop.ReplayStore {
		// One server, a prefix per subtest.
		return newStore(t, client, "test:"+strconv.FormatInt(n.Add(1), 10)+":")
	})
}

// TestKeys checks what the store writes: prefix + hex SHA-256 of the jti, value "1", and
// an expiry at until rounded up to the millisecond.
func TestKeys(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Redis(t)
	client := newClient(t, srv.Addr)

	for _, tt := range []struct{ prefix, wantPrefix string }{{"", redisreplay.DefaultPrefix}, {"svc-a:", "svc-a:"}} {
		s := newStore(t, client, tt.prefix)
		jti := "jti-" + tt.wantPrefix
		until := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(400 * time.Microsecond)
		if replayed, err := s.Use(ctx, jti, until); replayed || err != nil {
			t.Fatalf("Use() = %v, %v; want false, nil", replayed, err)
		}
		sum := sha256.Sum256([]byte(jti))
		key := tt.wantPrefix + hex.EncodeToString(sum[:])
		if v, err := client.Get(ctx, key).Result(); v != "1" || err != nil {
			t.Fatalf("GET %s = %q, %v; want \"1\"", key, v, err)
		}
		at, err := client.Do(ctx, "PEXPIRETIME", key).Int64()
		if want := until.Truncate(time.Millisecond).Add(time.Millisecond).UnixMilli(); err != nil || at != want {
			t.Fatalf("PEXPIRETIME %s = %d, %v; want %d", key, at, err, want)
		}
		if keys, _ := client.Keys(ctx, "*"+jti+"*").Result(); len(keys) != 0 {
			t.Fatalf("a key contains the jti: %v", keys)
		}
	}
}

// TestRedisDownFailsClosed: when Redis cannot be reached, Use returns an error and
// Verify refuses the proof with ErrReplayStore.
func TestRedisDownFailsClosed(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	s := newStore(t, client, "")
	if _, err := s.Use(context.Background(), "jti", time.Now().Add(time.Minute)); err == nil || !strings.HasPrefix(err.Error(), "redisreplay: ") {
		t.Fatalf("Use() error = %v, want a \"redisreplay: \" error", err)
	}

	v, err := dpop.New(dpop.Config{BaseURL: "https://fhir.example.org", Replay: s})
	if err != nil {
		t.Fatal(err)
	}
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := dpop.NewProof(key, http.MethodGet, "https://fhir.example.org/x", "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Header.Set("DPoP", proof)
	if _, err := v.Verify(context.Background(), r, ""); !errors.Is(err, dpop.ErrReplayStore) {
		t.Fatalf("Verify() error = %v, want ErrReplayStore", err)
	}
}

// TestVerifyAcrossReplicas: two verifiers (replicas) sharing one Redis accept a proof
// once between them.
func TestVerifyAcrossReplicas(t *testing.T) {
	srv := testserver.Redis(t)
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	var replicas []*dpop.Verifier
	for range 2 {
		v, err := dpop.New(dpop.Config{BaseURL: "https://fhir.example.org", Replay: newStore(t, newClient(t, srv.Addr), "")})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, v)
	}
	proof, err := dpop.NewProof(key, http.MethodGet, "https://fhir.example.org/x", "tok", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []error{nil, dpop.ErrReplay, dpop.ErrReplay} {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("DPoP", proof)
		_, err := replicas[i%2].Verify(context.Background(), r, "tok")
		if !errors.Is(err, want) || (want == nil && err != nil) {
			t.Fatalf("request %d on replica %d: Verify() error = %v, want %v", i, i%2, err, want)
		}
	}
}

func TestNew(t *testing.T) {
	if s, err := redisreplay.New(redisreplay.Config{}); err == nil || s != nil {
		t.Fatalf("New(no client) = %v, %v; want an error", s, err)
	}
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
