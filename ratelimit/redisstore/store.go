package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/ratelimit"
)

// DefaultPrefix is the Redis key prefix when Config.Prefix is empty.
const DefaultPrefix = "phikit:ratelimit:"

// ErrInvalidConfig is wrapped by the errors of New for a config it refuses.
var ErrInvalidConfig = errors.New("redisstore: invalid config")

// Config configures a Store. Client is required.
type Config struct {
	// Client is the Redis connection: a *redis.Client, *redis.ClusterClient or
	// *redis.Ring. Required. The Store never closes it.
	Client redis.UniversalClient
	// Prefix starts every Redis key the store writes; empty means DefaultPrefix. Stores
	// that share a prefix (and a Redis) share their limits.
	Prefix string
}

// Store is a ratelimit.Store in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	// offset is added to the server's clock, in nanoseconds: zero outside this
	// package's tests, which move it forward (export_test.go) instead of sleeping.
	offset atomic.Int64
}

var _ ratelimit.Store = (*Store)(nil)

// New checks cfg and returns a Store. It does not contact Redis.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, fmt.Errorf("redisstore: Config.Client is required: %w", ErrInvalidConfig)
	}
	p := cfg.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return &Store{client: cfg.Client, prefix: p}, nil
}

// gcra computes GCRA on the Redis server's clock, in microseconds (Lua numbers are
// doubles: Unix microseconds stay exact, nanoseconds would not). KEYS[1] holds the
// theoretical arrival time (TAT). ARGV: emission interval (µs), burst tolerance (µs),
// cost, burst, clock offset (µs, zero but in tests). It returns {allowed, remaining, reset µs, retry µs (-1: never)}.
// Redis before 5 needs effects replication to write after TIME; later it is the default.
var gcra = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[5])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local function remaining(x)
  local r = math.floor((now + tau - x) / interval + 1e-6)
  if r < 0 then r = 0 end
  return r
end
if cost > burst then
  return {0, remaining(tat), math.ceil(tat - now), -1}
end
if cost < 0 then
  cost = 0
end
local newtat = tat + cost * interval
local allowat = newtat - tau
if now < allowat - 1e-6 then
  return {0, remaining(tat), math.ceil(tat - now), math.ceil(allowat - now)}
end
if cost > 0 then
  redis.call('SET', KEYS[1], string.format('%.17g', newtat), 'PX', math.max(1, math.ceil((newtat - now) / 1000)))
end
return {1, remaining(newtat), math.ceil(newtat - now), 0}
`)

// Allow implements ratelimit.Store with one round trip: EVALSHA of a Lua script (EVAL
// when Redis answers NOSCRIPT) on one key, prefix + hex(SHA-256(key)).
func (s *Store) Allow(ctx context.Context, key string, cost int, l ratelimit.Limit) (ratelimit.Result, error) {
	if !(l.Rate > 0) || math.IsInf(l.Rate, 0) || l.Burst <= 0 {
		return ratelimit.Result{}, fmt.Errorf("redisstore: Limit needs a positive Rate and Burst: %w", ratelimit.ErrInvalidConfig)
	}
	rkey := redisKey(s.prefix, key)
	interval := 1e6 / l.Rate // µs
	v, err := gcra.Run(ctx, s.client, []string{rkey}, interval, interval*float64(l.Burst), cost, l.Burst,
		s.offset.Load()/int64(time.Microsecond)).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, fmt.Errorf("redisstore: %w", err)
	}
	if len(v) != 4 {
		return ratelimit.Result{}, fmt.Errorf("redisstore: script returned %d values, want 4", len(v))
	}
	res := ratelimit.Result{
		Allowed:    v[0] == 1,
		Limit:      l.Burst,
		Remaining:  int(v[1]),
		ResetAfter: time.Duration(v[2]) * time.Microsecond,
		RetryAfter: time.Duration(v[3]) * time.Microsecond,
	}
	if v[3] < 0 {
		res.RetryAfter = -1
	}
	return res, nil
}
