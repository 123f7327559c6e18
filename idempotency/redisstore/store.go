package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency"
)

// DefaultPrefix is the Redis key prefix when Config.Prefix is empty.
const DefaultPrefix = "phikit:idempotency:"

// ExpiryMargin is added to a record's Redis expiry, beyond the time the record stops
// being live: replicas whose clocks run behind the writer's still find the record
// until theirs pass its end, to this margin.
const ExpiryMargin = time.Minute

// ErrInvalidConfig is wrapped by the errors of New for a config it refuses.
var ErrInvalidConfig = errors.New("redisstore: invalid config")

// Config configures a Store. Client is required.
type Config struct {
	// Client is the Redis connection: a *redis.Client, *redis.ClusterClient or
	// *redis.Ring. Required. The Store never closes it.
	Client redis.UniversalClient
	// Prefix starts every Redis key the store writes; empty means DefaultPrefix. Stores
	// that share a prefix (and a Redis) share their records.
	Prefix string
}

// Store is an idempotency.Store in Redis: one hash per record, at Prefix + key. Claim,
// Complete and Release are one Lua script each (one round trip). It is safe for
// concurrent use, and by several replicas sharing one Redis.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ idempotency.Store = (*Store)(nil)

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

// A record is a hash with the fields
//
//	st   "p" (in progress) or "c" (completed)
//	tok  the token of the request that claimed it
//	fp   the request's fingerprint
//	us   until, Unix seconds: the lease's end in progress, the keep time once completed
//	un   until, nanoseconds within the second (0 to 999999999)
//	r    the sealed response; absent when completed as not replayable, and in progress
//
// Times are (seconds, nanoseconds) pairs because Lua numbers are doubles, which hold
// Unix seconds and nanoseconds exactly but not Unix nanoseconds. A record is live while
// until > now; the caller's now is the only clock compared. The key's Redis expiry
// (PEXPIRE, relative, so the server's clock offset does not matter) is the time left
// until then plus ExpiryMargin, and only collects garbage.

// live is the Lua test that record fields us, un are after now (ns, nn); nil when they
// are not numbers.
const live = `
local function live(us, un, ns, nn)
  us = tonumber(us)
  un = tonumber(un)
  if not us or not un then
    return nil
  end
  return us > ns or (us == ns and un > nn)
end
`

// claim: KEYS[1] the record. ARGV: token, fingerprint, now s, now ns, until s, until ns,
// expiry ms. Returns {1} when acquired, else {0, st, fp, us, un, r}: the live record, or
// one this package did not write (times that are not numbers), which Claim refuses.
var claim = redis.NewScript(live + `
local k = KEYS[1]
local r = redis.call('HMGET', k, 'st', 'fp', 'us', 'un', 'r')
if r[1] and live(r[3], r[4], tonumber(ARGV[3]), tonumber(ARGV[4])) ~= false then
  return {0, r[1], r[2], r[3], r[4], r[5]}
end
redis.call('DEL', k)
redis.call('HSET', k, 'st', 'p', 'tok', ARGV[1], 'fp', ARGV[2], 'us', ARGV[5], 'un', ARGV[6])
redis.call('PEXPIRE', k, ARGV[7])
return {1}
`)

// complete: KEYS[1] the record. ARGV: token, now s, now ns, until s, until ns, expiry
// ms, "1" with a response or "0" without, the response. Returns 1, or 0 when the token
// does not hold a live lease.
var complete = redis.NewScript(live + `
local k = KEYS[1]
local r = redis.call('HMGET', k, 'st', 'tok', 'us', 'un')
if r[1] ~= 'p' or r[2] ~= ARGV[1] or not live(r[3], r[4], tonumber(ARGV[2]), tonumber(ARGV[3])) then
  return 0
end
redis.call('HSET', k, 'st', 'c', 'us', ARGV[4], 'un', ARGV[5])
if ARGV[7] == '1' then
  redis.call('HSET', k, 'r', ARGV[8])
else
  redis.call('HDEL', k, 'r')
end
redis.call('PEXPIRE', k, ARGV[6])
return 1
`)

// release: KEYS[1] the record. ARGV: token, now s, now ns. Returns 1, or 0 when the
// token does not hold a live lease.
var release = redis.NewScript(live + `
local k = KEYS[1]
local r = redis.call('HMGET', k, 'st', 'tok', 'us', 'un')
if r[1] ~= 'p' or r[2] ~= ARGV[1] or not live(r[3], r[4], tonumber(ARGV[2]), tonumber(ARGV[3])) then
  return 0
end
redis.call('DEL', k)
return 1
`)

// Claim implements idempotency.Store in one round trip: EVALSHA of a Lua script (EVAL
// when Redis answers NOSCRIPT) that reads the record at Prefix + key and, when there is
// none or it is no longer live at now, replaces it with token's claim. lease must be
// positive.
func (s *Store) Claim(ctx context.Context, key, token string, fingerprint []byte, now time.Time, lease time.Duration) (idempotency.Claim, error) {
	if lease <= 0 {
		return idempotency.Claim{}, errors.New("redisstore: claim: lease must be positive")
	}
	if err := ctx.Err(); err != nil {
		return idempotency.Claim{}, fmt.Errorf("redisstore: claim: %w", err)
	}
	until := now.Add(lease)
	v, err := claim.Run(ctx, s.client, []string{s.prefix + key},
		token, fingerprint, now.Unix(), now.Nanosecond(), until.Unix(), until.Nanosecond(), expiry(lease)).Slice()
	if err != nil {
		return idempotency.Claim{}, fmt.Errorf("redisstore: claim: %w", err)
	}
	return parseClaim(v)
}

// parseClaim turns the claim script's reply into a Claim.
func parseClaim(v []any) (idempotency.Claim, error) {
	bad := func(what string) (idempotency.Claim, error) {
		return idempotency.Claim{}, fmt.Errorf("redisstore: claim: the record holds %s", what)
	}
	if len(v) == 1 && v[0] == int64(1) {
		return idempotency.Claim{Acquired: true}, nil
	}
	if len(v) != 6 || v[0] != int64(0) {
		return bad("an unexpected reply")
	}
	st, _ := v[1].(string)
	fp, ok := v[2].(string)
	if !ok {
		return bad("no fingerprint")
	}
	us, err1 := parseInt(v[3])
	un, err2 := parseInt(v[4])
	if err1 != nil || err2 != nil || un < 0 || un >= 1e9 {
		return bad("an invalid time")
	}
	c := idempotency.Claim{Fingerprint: []byte(fp)}
	until := time.Unix(us, un).UTC()
	switch st {
	case "p":
		c.LeaseExpires = until
	case "c":
		c.Completed = true
		if r, ok := v[5].(string); ok {
			c.Response = []byte(r)
		}
	default:
		return bad("an unknown state")
	}
	return c, nil
}

func parseInt(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, errors.New("not a string")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Complete implements idempotency.Store in one round trip: a Lua script that stores
// response (nil: not replayable) as the completed record, kept until now+ttl, if token
// holds a lease that is live at now. Otherwise it changes nothing and returns
// idempotency.ErrLeaseLost. ttl must be positive.
func (s *Store) Complete(ctx context.Context, key, token string, response []byte, now time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("redisstore: complete: ttl must be positive")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	until := now.Add(ttl)
	has := "0"
	if response != nil {
		has = "1"
	}
	n, err := complete.Run(ctx, s.client, []string{s.prefix + key},
		token, now.Unix(), now.Nanosecond(), until.Unix(), until.Nanosecond(), expiry(ttl), has, response).Int()
	if err != nil {
		return fmt.Errorf("redisstore: complete: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("redisstore: complete: %w", idempotency.ErrLeaseLost)
	}
	return nil
}

// Release implements idempotency.Store in one round trip: a Lua script that deletes the
// record if token holds a lease that is live at now. Otherwise it changes nothing and
// returns idempotency.ErrLeaseLost.
func (s *Store) Release(ctx context.Context, key, token string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	n, err := release.Run(ctx, s.client, []string{s.prefix + key}, token, now.Unix(), now.Nanosecond()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: release: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("redisstore: release: %w", idempotency.ErrLeaseLost)
	}
	return nil
}

// expiry is the Redis expiry, in milliseconds, of a record live for d: d rounded up,
// plus ExpiryMargin (the longest Duration when that overflows).
func expiry(d time.Duration) int64 {
	if d > math.MaxInt64-ExpiryMargin-time.Millisecond {
		return math.MaxInt64 / int64(time.Millisecond)
	}
	return int64((d + ExpiryMargin + time.Millisecond - 1) / time.Millisecond)
}
