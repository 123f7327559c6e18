package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a Limiter tracks when LimiterConfig.MaxKeys is zero.
const DefaultMaxKeys = 100_000

// MaxKeysLimit is the largest LimiterConfig.MaxKeys: slot indices are int32.
const MaxKeysLimit = 1 << 30

const maxShards = 64

// LimiterConfig configures a Limiter. Rate and Burst are required.
type LimiterConfig struct {
	// Rate is the sustained number of cost units allowed per second per key. Required:
	// zero or less is an error (there is no "unlimited").
	Rate float64
	// Burst is the most cost units a key may spend at once, and the quota announced in
	// RateLimit-Policy. Required: zero or less is an error.
	Burst int
	// MaxKeys caps the number of keys tracked at once; zero means DefaultMaxKeys. When the
	// cap is reached the least recently used key is forgotten (an approximation: see
	// Limiter).
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Result is the outcome of one decision.
type Result struct {
	// Allowed reports whether the request may proceed; its cost was spent only if so.
	Allowed bool
	// Limit is the burst: the most cost units the key may spend at once.
	Limit int
	// Remaining is the number of cost units the key could spend right now, after this
	// decision.
	Remaining int
	// ResetAfter is how long until the key has its full burst back.
	ResetAfter time.Duration
	// RetryAfter is how long until the same request would be allowed: zero when
	// allowed, and -1 when the cost exceeds the burst and it never will be.
	RetryAfter time.Duration
}

// Limiter is a per-key rate limiter using the generic cell rate algorithm (GCRA): each
// key stores only its theoretical arrival time (TAT). It is safe for concurrent use.
//
// Keys are spread over up to 64 shards by a seeded hash, each with its own mutex and a
// fixed share of MaxKeys. A shard that is full evicts with the CLOCK (second-chance)
// approximation of LRU, preferring keys whose TAT has passed. A new key enters without
// its reference bit, which it gets on its second use, so a flood of one-off keys pushes
// out other one-off keys before the keys in steady use.
//
// Evicting a key never grants it more than a full burst. In GCRA a key whose TAT is in
// the past is indistinguishable from a key never seen: both may spend exactly Burst units
// now. A forgotten key starts again as a new key, with at most a full burst, which is
// what it would have had anyway once it had been idle for Burst/Rate. So eviction can
// only give back tokens the key was still paying off, never more than Burst of them; an
// attacker cycling through more than MaxKeys keys gains nothing he could not get by
// using that many keys, each with its own full burst.
type Limiter struct {
	rate     float64
	interval int64 // nanoseconds per cost unit, the emission interval T
	tau      int64 // burst tolerance: Burst*T
	burst    int
	now      func() time.Time
	seed     maphash.Seed
	mask     uint64
	shards   []shard
}

type shard struct {
	mu    sync.Mutex
	index map[string]int32
	slots []slot
	cap   int
	hand  int
	_     [64]byte // keep neighbouring shards' mutexes off one cache line
}

type slot struct {
	key string
	tat int64 // theoretical arrival time, Unix nanoseconds
	ref bool  // used since the clock hand last passed
}

// ErrInvalidConfig is wrapped by the errors of NewLimiter and New for a config they refuse.
var ErrInvalidConfig = errors.New("ratelimit: invalid config")

// NewLimiter checks cfg and returns a Limiter. It allocates no per-key memory up front.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if !(cfg.Rate > 0) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("ratelimit: Rate must be a positive number: %w", ErrInvalidConfig)
	}
	if cfg.Burst <= 0 {
		return nil, fmt.Errorf("ratelimit: Burst must be positive: %w", ErrInvalidConfig)
	}
	if cfg.MaxKeys < 0 || cfg.MaxKeys > MaxKeysLimit {
		return nil, fmt.Errorf("ratelimit: MaxKeys must be between 0 and %d: %w", MaxKeysLimit, ErrInvalidConfig)
	}
	interval := float64(time.Second) / cfg.Rate
	if interval < 1 {
		return nil, fmt.Errorf("ratelimit: Rate above one per nanosecond: %w", ErrInvalidConfig)
	}
	// Keep Burst*T plus a cost of up to Burst well inside int64 nanoseconds (~292 years).
	if interval*float64(cfg.Burst)*2 > float64(math.MaxInt64/4) {
		return nil, fmt.Errorf("ratelimit: Burst/Rate too long: %w", ErrInvalidConfig)
	}
	l := &Limiter{
		rate:     cfg.Rate,
		interval: int64(interval),
		burst:    cfg.Burst,
		now:      cfg.Now,
		seed:     maphash.MakeSeed(),
	}
	l.tau = l.interval * int64(cfg.Burst)
	if l.now == nil {
		l.now = time.Now
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	// At least 16 keys a shard, so that small caps are still LRU-like.
	n := maxShards
	for n > 1 && maxKeys/n < 16 {
		n /= 2
	}
	l.mask = uint64(n - 1) // #nosec G115 -- n is between 1 and maxShards
	l.shards = make([]shard, n)
	for i := range l.shards {
		s := &l.shards[i]
		s.cap = maxKeys / n
		if i < maxKeys%n {
			s.cap++
		}
		s.index = make(map[string]int32)
	}
	return l, nil
}

// Limit returns the configured rate and burst.
func (l *Limiter) Limit() Limit { return Limit{Rate: l.rate, Burst: l.burst} }

// Burst returns the configured burst.
func (l *Limiter) Burst() int { return l.burst }

// Window returns Burst/Rate: how long an idle key takes to get its full burst back.
func (l *Limiter) Window() time.Duration { return time.Duration(l.tau) }

// Allow is AllowAt(key, cost, time.Now()) with the limiter's clock.
func (l *Limiter) Allow(key string, cost int) Result {
	return l.AllowAt(key, cost, l.now())
}

// AllowAt decides whether key may spend cost units at now and, if so, spends them. A cost
// of zero or less only reports the key's state. A cost above Burst is never allowed
// (RetryAfter -1). It does not allocate for a key already tracked.
func (l *Limiter) AllowAt(key string, cost int, now time.Time) Result {
	t := now.UnixNano()
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	i, found := s.index[key]
	tat := t
	if found && s.slots[i].tat > t {
		tat = s.slots[i].tat
	}
	res := Result{Limit: l.burst}
	if cost > l.burst {
		s.mu.Unlock()
		res.RetryAfter = -1
		res.Remaining = int((t + l.tau - tat) / l.interval)
		res.ResetAfter = time.Duration(tat - t)
		return res
	}
	if cost < 0 {
		cost = 0
	}
	newTAT := tat + int64(cost)*l.interval
	allowAt := newTAT - l.tau
	if t < allowAt {
		if found {
			s.slots[i].ref = true
		}
		s.mu.Unlock()
		res.RetryAfter = time.Duration(allowAt - t)
		res.Remaining = int((t + l.tau - tat) / l.interval)
		res.ResetAfter = time.Duration(tat - t)
		return res
	}
	switch {
	case found:
		s.slots[i].tat, s.slots[i].ref = newTAT, true
	case cost > 0:
		s.insert(key, newTAT, t)
	}
	s.mu.Unlock()
	res.Allowed = true
	res.Remaining = int((t + l.tau - newTAT) / l.interval)
	res.ResetAfter = time.Duration(newTAT - t)
	return res
}

// insert adds key; s.mu is held and key is absent.
func (s *shard) insert(key string, tat, now int64) {
	if len(s.slots) < s.cap {
		s.index[key] = int32(len(s.slots)) // #nosec G115 -- below s.cap ≤ MaxKeysLimit < 2^31
		s.slots = append(s.slots, slot{key: key, tat: tat})
		return
	}
	if s.cap == 0 {
		return // a shard with no room tracks nothing: every key is new, with a full burst
	}
	// CLOCK: a key whose TAT has passed is as good as absent and goes at once; otherwise
	// the first key not used since the hand last passed it.
	for {
		v := &s.slots[s.hand]
		if v.tat <= now || !v.ref {
			break
		}
		v.ref = false
		s.hand++
		if s.hand == len(s.slots) {
			s.hand = 0
		}
	}
	v := &s.slots[s.hand]
	delete(s.index, v.key)
	*v = slot{key: key, tat: tat}
	s.index[key] = int32(s.hand) // #nosec G115 -- below s.cap ≤ MaxKeysLimit < 2^31
	s.hand++
	if s.hand == len(s.slots) {
		s.hand = 0
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.slots)
		s.mu.Unlock()
	}
	return n
}
