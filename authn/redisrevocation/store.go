package redisrevocation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/revkey"
)

// DefaultPrefix is the key prefix of a Config whose Prefix is empty.
const DefaultPrefix = "phikit:revoked:"

// retention is how long Redis keeps an entry past its until, on the server's clock, so
// that a server clock running ahead of the replicas' by up to this much does not drop a
// revocation they still enforce.
const retention = time.Minute

// maxUntil bounds the until kept in an entry, in microseconds, to what a Lua number
// (a float64) holds exactly. A later until is kept as maxUntil: revoked for 200 years.
var maxUntil = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// Config configures a Store.
type Config struct {
	// Client is the Redis connection: a *redis.Client, a *redis.ClusterClient or a
	// failover client. Required. Each call is one command on one key, so Redis Cluster
	// needs no hash tags. Point reads at the primary: a replica that lags does not yet
	// know a revocation.
	Client redis.UniversalClient
	// Prefix is put before every key, to share a Redis with other data. Empty means
	// DefaultPrefix. Stores with the same Client and Prefix share their entries.
	Prefix string
	// Now returns the current time: it decides whether an until has passed and must be
	// the clock of the authenticator. Nil means time.Now.
	Now func() time.Time
}

// Store is an authn.Revocations kept in Redis and shared by every replica that uses the
// same Redis and Prefix. Build it with New. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
}

var _ authn.Revocations = (*Store)(nil)

// New checks cfg and returns a Store. It sends nothing to Redis.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisrevocation: Client is required")
	}
	s := &Store{client: cfg.Client, prefix: cfg.Prefix, now: cfg.Now}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// revokeScript records an entry unless it already holds a later until: an entry is never
// shortened. KEYS[1] is the entry, ARGV[1] its until in Unix microseconds, ARGV[2] when
// Redis may drop it, in Unix milliseconds.
var revokeScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur and cur >= tonumber(ARGV[1]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[2])
return 1
`)

// Revoke records that issuer/jti is revoked until until, in one round trip (EVALSHA; and
// EVAL once more after Redis has lost its script cache). The entry holds until, and
// Redis drops it a minute after until on its own clock. An until at or before Now sends
// nothing.
func (s *Store) Revoke(ctx context.Context, issuer, jti string, until time.Time) error {
	if err := check(ctx, "revoke", issuer, jti); err != nil {
		return err
	}
	if !s.now().Before(until) {
		return nil
	}
	if until.After(maxUntil) {
		until = maxUntil
	}
	// Rounded up, so the entry lasts at least until.
	untilMicro := until.Add(time.Microsecond - 1).UnixMicro()
	dropMilli := until.Add(retention + time.Millisecond - 1).UnixMilli()
	err := revokeScript.Run(ctx, s.client, []string{s.key(issuer, jti)}, untilMicro, dropMilli).Err()
	if err != nil {
		return fail("revoke", err)
	}
	return nil
}

// Revoked reports whether issuer/jti is revoked at Now, in one round trip (GET). An
// error wraps ErrRedis (or authn.ErrInvalidRevocation): the answer is unknown.
func (s *Store) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	if err := check(ctx, "revoked", issuer, jti); err != nil {
		return false, err
	}
	v, err := s.client.Get(ctx, s.key(issuer, jti)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fail("revoked", err)
	}
	untilMicro, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fail("revoked", errors.New("entry is not a revocation"))
	}
	return s.now().UnixMicro() < untilMicro, nil
}

// key returns the Redis key of issuer/jti: the prefix and the hex of revkey.Sum, the
// SHA-256 of the issuer's length, the issuer and the jti. Neither value reaches Redis,
// no spelling of them can make another pair's key or a pattern, and the key has a fixed
// length.
func (s *Store) key(issuer, jti string) string {
	sum := revkey.Sum(issuer, jti)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	var k strings.Builder
	k.Grow(len(s.prefix) + len(h))
	k.WriteString(s.prefix)
	k.Write(h[:])
	return k.String()
}

func check(ctx context.Context, op, issuer, jti string) error {
	if issuer == "" || jti == "" {
		return fmt.Errorf("redisrevocation: %s: %w", op, authn.ErrInvalidRevocation)
	}
	if err := ctx.Err(); err != nil {
		return fail(op, err)
	}
	return nil
}

func fail(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrRedis, op, err)
}
