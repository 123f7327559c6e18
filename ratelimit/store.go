package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Limit is a GCRA limit: Rate cost units per second sustained, Burst at once.
type Limit struct {
	// Rate is the sustained number of cost units allowed per second per key.
	Rate float64
	// Burst is the most cost units a key may spend at once.
	Burst int
}

// Store keeps the state of rate limits, possibly shared between processes (see the
// redisstore package). Allow decides whether key may spend cost units under l and, if
// so, spends them, with the same rules as [Limiter.AllowAt]: a cost of zero or less only
// reports, a cost above l.Burst is refused with RetryAfter -1. An error means no
// decision was taken; the middleware then applies Config.OnStoreError.
//
// Implementations must be safe for concurrent use; ratelimittest.RunStoreTests checks
// one.
type Store interface {
	Allow(ctx context.Context, key string, cost int, l Limit) (Result, error)
}

var _ Store = (*MemoryStore)(nil)

// MemoryStoreConfig configures a MemoryStore. The zero value is ready to use.
type MemoryStoreConfig struct {
	// MaxKeys caps the keys tracked per distinct Limit; zero means DefaultMaxKeys.
	MaxKeys int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MemoryStore is a Store in process memory: one [Limiter] per distinct Limit, made on
// first use. It does not allocate for a key already tracked under a Limit already seen.
// It is safe for concurrent use.
type MemoryStore struct {
	cfg      MemoryStoreConfig
	mu       sync.RWMutex
	limiters map[Limit]*Limiter
}

// NewMemoryStore checks cfg and returns a MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) (*MemoryStore, error) {
	if _, err := NewLimiter(LimiterConfig{Rate: 1, Burst: 1, MaxKeys: cfg.MaxKeys}); err != nil {
		return nil, err
	}
	return &MemoryStore{cfg: cfg, limiters: make(map[Limit]*Limiter)}, nil
}

// Allow implements Store. It returns an error wrapping ErrInvalidConfig for a Limit
// NewLimiter refuses, and never another.
func (s *MemoryStore) Allow(_ context.Context, key string, cost int, l Limit) (Result, error) {
	s.mu.RLock()
	lim := s.limiters[l]
	s.mu.RUnlock()
	if lim == nil {
		var err error
		if lim, err = s.limiter(l); err != nil {
			return Result{}, err
		}
	}
	return lim.Allow(key, cost), nil
}

func (s *MemoryStore) limiter(l Limit) (*Limiter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim := s.limiters[l]; lim != nil {
		return lim, nil
	}
	lim, err := NewLimiter(LimiterConfig{Rate: l.Rate, Burst: l.Burst, MaxKeys: s.cfg.MaxKeys, Now: s.cfg.Now})
	if err != nil {
		return nil, err
	}
	s.limiters[l] = lim
	return lim, nil
}
