package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/ratelimit"
)

// MaxQuotaLimit is the largest limit QuotaStore.Spend accepts, 2⁵³−1: Lua numbers are
// doubles, exact for integers up to that.
const MaxQuotaLimit = 1<<53 - 1

// QuotaConfig configures a QuotaStore. Client is required.
type QuotaConfig struct {
	// Client is the Redis connection: a *redis.Client, *redis.ClusterClient or
	// *redis.Ring. Required. The QuotaStore never closes it.
	Client redis.UniversalClient
	// Prefix starts every Redis key the store writes; empty means DefaultPrefix. The key
	// is Prefix + "quota:" + 64 hex digits, so it never meets a Store's key (Prefix + 64
	// hex digits) even under the same prefix. QuotaStores that share a prefix (and a
	// Redis) share their counters.
	Prefix string
}

// QuotaStore is a ratelimit.QuotaStore in Redis: one counter per key, forgotten at the
// end of its window. It is safe for concurrent use.
type QuotaStore struct {
	client redis.UniversalClient
	prefix string
	// offset is added to the server's clock, in nanoseconds: zero outside this
	// package's tests (export_test.go).
	offset atomic.Int64
}

var _ ratelimit.QuotaStore = (*QuotaStore)(nil)

// NewQuotaStore checks cfg and returns a QuotaStore. It does not contact Redis.
func NewQuotaStore(cfg QuotaConfig) (*QuotaStore, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("redisstore: QuotaConfig.Client is required: %w", ErrInvalidConfig)
	}
	p := cfg.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return &QuotaStore{client: cfg.Client, prefix: p + quotaInfix}, nil
}

// quotaInfix follows the prefix in a QuotaStore's keys: it is not a hex digit, so a
// quota counter and a GCRA key under one prefix never share a Redis key.
const quotaInfix = "quota:"

// spend adds a cost to the counter KEYS[1] if the sum stays within the limit. ARGV:
// cost (0 only reports), limit, expiry (Unix ms, for PEXPIREAT), clock offset (ms, zero
// but in tests). It returns {count after the call, allowed}.
//
// The offset exists so tests can move the server's clock: a key whose expiry has passed
// on the moved clock is dropped here, as Redis would drop it once the real clock got
// there. With a zero offset the script calls neither TIME nor PEXPIRETIME (Redis 7),
// so it runs on any Redis since 2.6.
var spend = redis.NewScript(`
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local offset = tonumber(ARGV[4])
if offset ~= 0 then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + offset
  local e = redis.call('PEXPIRETIME', KEYS[1])
  if e >= 0 and e <= now then
    redis.call('DEL', KEYS[1])
  end
end
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if cost == 0 or count + cost > limit then
  local ok = 0
  if cost == 0 and count <= limit then ok = 1 end
  return {count, ok}
end
count = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return {count, 1}
`)

// Spend implements ratelimit.QuotaStore with one round trip: EVALSHA of a Lua script
// (EVAL when Redis answers NOSCRIPT) on one key, prefix + "quota:" + hex(SHA-256(key)),
// which reads the counter and, when count+cost ≤ limit, adds cost (INCRBY) and sets the
// key to expire at expireAt (PEXPIREAT, in milliseconds, on the Redis server's clock).
//
// The rules are those of ratelimit.Store.Allow: a cost of zero or less only reports the
// count (allowed when the count is within limit); a cost above limit is refused and
// spends nothing. A limit outside [1, MaxQuotaLimit] or a zero expireAt is an error
// wrapping ratelimit.ErrInvalidConfig, with nothing sent to Redis. An expireAt already
// past is allowed but not remembered: the counter is gone as soon as it is written.
func (s *QuotaStore) Spend(ctx context.Context, key string, cost, limit int64, expireAt time.Time) (int64, bool, error) {
	if limit <= 0 || limit > MaxQuotaLimit {
		return 0, false, fmt.Errorf("redisstore: quota limit must be between 1 and 2^53-1: %w", ratelimit.ErrInvalidConfig)
	}
	if expireAt.IsZero() {
		return 0, false, fmt.Errorf("redisstore: quota expiry must be set: %w", ratelimit.ErrInvalidConfig)
	}
	switch {
	case cost < 0:
		cost = 0
	case cost > limit:
		cost = limit + 1 // refused all the same, and exact as a Lua number
	}
	rkey := redisKey(s.prefix, key)
	v, err := spend.Run(ctx, s.client, []string{rkey}, cost, limit, expireAt.UnixMilli(),
		s.offset.Load()/int64(time.Millisecond)).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redisstore: %w", err)
	}
	if len(v) != 2 {
		return 0, false, fmt.Errorf("redisstore: script returned %d values, want 2", len(v))
	}
	return v[0], v[1] == 1, nil
}

// redisKey is the Redis key of key: prefix + hex(SHA-256(key)), fixed length, with no
// byte of the caller's key in clear.
func redisKey(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:])
}
