package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
	"time"
)

// DefaultMaxKeys is the number of keys a Limiter tracks when LimiterConfig.MaxKeys is zero.
const DefaultMaxKeys = 100_000

// MaxKeysLimit is the largest LimiterConfig.MaxKeys: 2^24 keys in each of 64 shards, so
// that a slot index fits an index entry.
const MaxKeysLimit = 1 << 30

const maxShards = 64 // a power of two; a shard is chosen by the low bits of the key's hash

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
	// Limiter). Each shard holds a fixed share of the cap and keys do not spread evenly,
	// so eviction starts about 1% before MaxKeys keys are held.
	MaxKeys int
	// Now is the clock; nil means the system clock, read as time.Now at NewLimiter
	// advanced by the monotonic clock: one clock read per decision instead of time.Now's
	// two, and stepping the wall clock (NTP, an operator) neither frees nor blocks keys.
	// (On Linux the monotonic clock stops while the machine is suspended, so after a
	// suspend keys wait longer, never less.)
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
//
// Two keys whose hashes collide are still two keys: a lookup compares the key itself, so
// a collision costs a probe, never a shared limit. Each tracked key costs about 40 to 50
// bytes (its slot and index entry) plus the key string, which the limiter retains.
type Limiter struct {
	rate      float64
	interval  int64   // nanoseconds per cost unit, the emission interval T
	perUnit   divider // divides by interval
	tau       int64   // burst tolerance: Burst*T
	burst     int
	now       func() time.Time // never nil: cfg.Now or l.systemClock
	systemNow bool             // now is l.systemClock: Allow reads the monotonic clock itself
	// The timeline of TATs: nanoseconds, epochNano at epoch, and for any other time t
	// epochNano + t.Sub(epoch), which follows the monotonic clock when t has a reading.
	epoch     time.Time // time.Now at NewLimiter, with its monotonic clock reading
	epochNano int64     // epoch.UnixNano()
	seed      maphash.Seed
	hashMask  uint64 // all ones; tests clear bits to force hash collisions
	mask      uint64 // shard count - 1
	shards    []shard
}

// shard is one lock's worth of keys: slots holds the keys and their TATs, in the order
// the CLOCK hand visits them; table indexes the slots by hash, with open addressing and
// linear probing.
type shard struct {
	mu sync.Mutex
	// table entries are tag | (slot index + 1), where tag is the top 7 bits of the slot's
	// hi and the low bits of hi choose the entry's home bucket; 0 marks an empty bucket.
	// The table is a power of two long, at most 2^25 (a shard holds at most 2^24 keys),
	// and at most three quarters full, so every probe ends.
	table []uint32
	slots []slot
	cap   int
	hand  int
	_     [64]byte // keep neighbouring shards' mutexes off one cache line
}

type slot struct {
	key string
	tat int64  // theoretical arrival time, nanoseconds on the limiter's timeline
	hi  uint32 // the high half of the key's hash
	ref bool   // used since the clock hand last passed
}

const (
	entrySlotBits = 25 // slot index + 1: a shard holds at most MaxKeysLimit/maxShards = 2^24 keys
	entrySlotMask = 1<<entrySlotBits - 1
)

// ErrInvalidConfig is wrapped by the errors of the package's constructors (New,
// NewLimiter, NewResolver, NewConcurrency, NewMemoryStore, NewMemoryQuotaStore,
// RouteCosts) for a config they refuse.
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
		epoch:    time.Now(),
		seed:     maphash.MakeSeed(),
		hashMask: ^uint64(0),
	}
	l.epochNano = l.epoch.UnixNano()
	l.perUnit = newDivider(uint64(l.interval)) // #nosec G115 -- interval is at least 1
	l.tau = l.interval * int64(cfg.Burst)
	if l.now == nil {
		l.now, l.systemNow = l.systemClock, true
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
	}
	return l, nil
}

// systemClock is the default clock: the epoch advanced by the monotonic clock.
func (l *Limiter) systemClock() time.Time { return l.epoch.Add(time.Since(l.epoch)) }

// Limit returns the configured rate and burst.
func (l *Limiter) Limit() Limit { return Limit{Rate: l.rate, Burst: l.burst} }

// Burst returns the configured burst.
func (l *Limiter) Burst() int { return l.burst }

// Window returns Burst/Rate: how long an idle key takes to get its full burst back.
func (l *Limiter) Window() time.Duration { return time.Duration(l.tau) }

// Allow is AllowAt(key, cost, now) with now from the limiter's clock (LimiterConfig.Now).
func (l *Limiter) Allow(key string, cost int) Result {
	if l.systemNow {
		// What AllowAt(key, cost, l.systemClock()) computes, without building the time.
		return l.decide(key, cost, l.epochNano+int64(time.Since(l.epoch)))
	}
	return l.AllowAt(key, cost, l.now())
}

// AllowAt decides whether key may spend cost units at now and, if so, spends them. A cost
// of zero or less only reports the key's state. A cost above Burst is never allowed
// (RetryAfter -1). It does not allocate for a key already tracked.
//
// Times are compared by their monotonic clock reading when they have one (as the results
// of time.Now and of the default clock do) and by the wall clock otherwise (as times from
// time.Date or a fake clock), the rule of time.Time.Sub.
func (l *Limiter) AllowAt(key string, cost int, now time.Time) Result {
	return l.decide(key, cost, l.epochNano+int64(now.Sub(l.epoch)))
}

// decide is AllowAt with now as nanoseconds on the limiter's timeline.
func (l *Limiter) decide(key string, cost int, t int64) Result {
	h := maphash.String(l.seed, key) & l.hashMask
	s := &l.shards[h&l.mask]
	hi := uint32(h >> 32)
	s.mu.Lock()
	i := s.find(key, hi)
	tat := t
	if i >= 0 && s.slots[i].tat > t {
		tat = s.slots[i].tat
	}
	res := Result{Limit: l.burst}
	if cost > l.burst {
		s.mu.Unlock()
		res.RetryAfter = -1
		res.Remaining = l.units(t + l.tau - tat)
		res.ResetAfter = time.Duration(tat - t)
		return res
	}
	if cost < 0 {
		cost = 0
	}
	newTAT := tat + int64(cost)*l.interval
	allowAt := newTAT - l.tau
	if t < allowAt {
		if i >= 0 {
			s.slots[i].ref = true
		}
		s.mu.Unlock()
		res.RetryAfter = time.Duration(allowAt - t)
		res.Remaining = l.units(t + l.tau - tat)
		res.ResetAfter = time.Duration(tat - t)
		return res
	}
	switch {
	case i >= 0:
		s.slots[i].tat, s.slots[i].ref = newTAT, true
	case cost > 0:
		s.insert(key, hi, newTAT, t)
	}
	s.mu.Unlock()
	res.Allowed = true
	res.Remaining = l.units(t + l.tau - newTAT)
	res.ResetAfter = time.Duration(newTAT - t)
	return res
}

// units is d / l.interval, rounded toward zero, and never below zero.
func (l *Limiter) units(d int64) int {
	if d < 0 {
		return 0 // AllowAt's time went back past a TAT; never announce a negative count
	}
	return int(l.perUnit.div(uint64(d))) // #nosec G115 -- d ≥ 0, and the quotient is at most d
}

// divider divides by a fixed positive d with a multiplication and shifts instead of a
// division instruction, exactly for every uint64 numerator: the algorithm of
// Granlund and Montgomery as libdivide implements it for unsigned 64-bit integers.
type divider struct {
	magic uint64 // 0 when d is a power of two
	shift uint
	add   bool // magic is 65 bits long: magic + 2^64
}

func newDivider(d uint64) divider {
	log := uint(63 - bits.LeadingZeros64(d)) // #nosec G115 -- d > 0: between 0 and 63
	if d&(d-1) == 0 {
		return divider{shift: log}
	}
	m, rem := bits.Div64(1<<log, 0, d) // 2^(64+log) / d; 2^log < d, so it fits
	v := divider{shift: log}
	if e := d - rem; e >= 1<<log {
		// 2^(64+log) is not enough: use 2^(65+log), doubling quotient and remainder.
		m += m
		if twice := rem + rem; twice >= d || twice < rem {
			m++
		}
		v.add = true
	}
	v.magic = m + 1
	return v
}

func (v divider) div(n uint64) uint64 {
	if v.magic == 0 {
		return n >> v.shift
	}
	q, _ := bits.Mul64(v.magic, n)
	if v.add {
		return ((n-q)>>1 + q) >> v.shift
	}
	return q >> v.shift
}

// entryTag returns the tag of a table entry for a key whose hash has high half hi.
func entryTag(hi uint32) uint32 { return hi &^ entrySlotMask }

// entrySlot returns the slot index of a table entry.
func entrySlot(e uint32) int { return int(e&entrySlotMask) - 1 }

// find returns the slot of key, whose hash has high half hi, or -1; s.mu is held.
func (s *shard) find(key string, hi uint32) int {
	m := len(s.table) - 1
	if m < 0 {
		return -1
	}
	tag := entryTag(hi)
	for p := int(hi) & m; ; p = (p + 1) & m {
		e := s.table[p]
		if e == 0 {
			return -1
		}
		if e&^entrySlotMask == tag {
			if i := entrySlot(e); s.slots[i].hi == hi && s.slots[i].key == key {
				return i
			}
		}
	}
}

// insert adds key, whose hash has high half hi; s.mu is held and key is absent.
func (s *shard) insert(key string, hi uint32, tat, now int64) {
	var i int
	switch {
	case len(s.slots) < s.cap:
		if len(s.slots) == cap(s.slots) {
			// Grow by half, never past the cap: a full shard holds no spare slots.
			n := min(len(s.slots)+max(len(s.slots)/2, 16), s.cap)
			slots := make([]slot, len(s.slots), n)
			copy(slots, s.slots)
			s.slots = slots
		}
		i = len(s.slots)
		s.slots = append(s.slots, slot{key: key, tat: tat, hi: hi})
		if 4*len(s.slots) > 3*len(s.table) {
			s.grow() // files the new slot too
			return
		}
	case s.cap == 0:
		return // a shard with no room tracks nothing: every key is new, with a full burst
	default:
		i = s.evict(now)
		s.slots[i] = slot{key: key, tat: tat, hi: hi}
	}
	s.file(i)
}

// file enters slot i in the table; s.mu is held and the table has room.
func (s *shard) file(i int) {
	hi := s.slots[i].hi
	m := len(s.table) - 1
	p := int(hi) & m
	for s.table[p] != 0 {
		p = (p + 1) & m
	}
	s.table[p] = entryTag(hi) | uint32(i+1) // #nosec G115 -- i < s.cap ≤ 2^24
}

// evict forgets one key and returns its slot, now free; s.mu is held and the shard is
// full.
func (s *shard) evict(now int64) int {
	// CLOCK: a key whose TAT has passed is as good as absent and goes at once; otherwise
	// the first key not used since the hand last passed it.
	for {
		v := &s.slots[s.hand]
		if v.tat <= now || !v.ref {
			break
		}
		v.ref = false
		s.advance()
	}
	i := s.hand
	s.advance()
	// Find the victim's entry, then close the gap it leaves (backward-shift deletion), so
	// that no probe sequence is broken and no tombstone is needed.
	m := len(s.table) - 1
	p := int(s.slots[i].hi) & m
	for entrySlot(s.table[p]) != i {
		p = (p + 1) & m
	}
	for q := (p + 1) & m; s.table[q] != 0; q = (q + 1) & m {
		// The entry at q may fill the gap at p unless its home lies in (p, q].
		if home := int(s.slots[entrySlot(s.table[q])].hi) & m; (q-home)&m >= (q-p)&m {
			s.table[p] = s.table[q]
			p = q
		}
	}
	s.table[p] = 0
	return i
}

func (s *shard) advance() {
	s.hand++
	if s.hand == len(s.slots) {
		s.hand = 0
	}
}

// grow doubles the table (or makes the first one) and files every slot in it.
func (s *shard) grow() {
	s.table = make([]uint32, max(2*len(s.table), 16))
	for i := range s.slots {
		s.file(i)
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
