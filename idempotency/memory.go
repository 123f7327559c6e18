package idempotency

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of MemoryStoreConfig.
const (
	DefaultMaxRecords     = 100_000
	DefaultMaxStoredBytes = 64 << 20
)

// MemoryStoreConfig configures a MemoryStore.
type MemoryStoreConfig struct {
	// MaxRecords is the most records (in progress or completed, not yet expired) the store
	// holds; zero means DefaultMaxRecords. When it is full and no record has expired, a
	// Claim of a new key fails with ErrStoreFull (the middleware answers 503): live records
	// are never evicted, since forgetting one would let its request run twice.
	MaxRecords int
	// MaxStoredBytes bounds the bytes of stored responses and fingerprints, together; zero
	// means DefaultMaxStoredBytes. A Complete that would exceed it, expired records
	// dropped, fails with ErrStoreFull (and changes nothing); the middleware then stores
	// the record as not replayable.
	MaxStoredBytes int64
}

// MemoryStore is a [Store] in this process's memory, for one replica and for tests:
// behind a load balancer, replicas with their own MemoryStore do not see each other's
// keys. Responses are held as given (sealed by the middleware). It is safe for concurrent
// use; it starts no goroutine, and expired records are dropped when the store is full (a
// scan of every record, done again only once a record can have expired, so that a flood
// of new keys against a full store does not cost a scan each).
type MemoryStore struct {
	maxRecords int
	maxBytes   int64

	mu      sync.Mutex
	records map[string]*memRecord
	bytes   int64
	// sweepAfter is the earliest expiry among the records at the last sweep, or among
	// those added since: no record expires before it, so no sweep is worth its cost
	// until then and a flood of new keys cannot buy a scan each.
	sweepAfter time.Time
	scans      int // sweeps that scanned the records, for tests
}

type memRecord struct {
	token       string
	fingerprint []byte
	completed   bool
	response    []byte
	until       time.Time // lease expiry while in progress, keep time once completed
}

func (r *memRecord) size() int64 { return int64(len(r.fingerprint) + len(r.response)) }

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) (*MemoryStore, error) {
	if cfg.MaxRecords < 0 || cfg.MaxStoredBytes < 0 {
		return nil, fmt.Errorf("idempotency: MaxRecords and MaxStoredBytes must not be negative: %w", ErrInvalidConfig)
	}
	s := &MemoryStore{maxRecords: cfg.MaxRecords, maxBytes: cfg.MaxStoredBytes, records: map[string]*memRecord{}}
	if s.maxRecords == 0 {
		s.maxRecords = DefaultMaxRecords
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxStoredBytes
	}
	return s, nil
}

// live returns key's record when it has not expired at now, and drops it when it has.
func (s *MemoryStore) live(key string, now time.Time) *memRecord {
	r, ok := s.records[key]
	if !ok {
		return nil
	}
	if !now.Before(r.until) {
		s.drop(key, r)
		return nil
	}
	return r
}

func (s *MemoryStore) drop(key string, r *memRecord) {
	delete(s.records, key)
	s.bytes -= r.size()
}

// sweep drops every record expired at now, unless none can have expired yet.
func (s *MemoryStore) sweep(now time.Time) {
	if now.Before(s.sweepAfter) {
		return
	}
	s.scans++
	var next time.Time
	for k, r := range s.records {
		switch {
		case !now.Before(r.until):
			s.drop(k, r)
		case next.IsZero() || r.until.Before(next):
			next = r.until
		}
	}
	s.sweepAfter = next
}

// Claim implements [Store.Claim].
func (s *MemoryStore) Claim(ctx context.Context, key, token string, fingerprint []byte, now time.Time, lease time.Duration) (Claim, error) {
	if err := ctx.Err(); err != nil {
		return Claim{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.live(key, now); r != nil {
		c := Claim{Fingerprint: clone(r.fingerprint), Completed: r.completed}
		if r.completed {
			c.Response = clone(r.response)
		} else {
			c.LeaseExpires = r.until
		}
		return c, nil
	}
	r := &memRecord{token: token, fingerprint: clone(fingerprint), until: now.Add(lease)}
	if len(s.records) >= s.maxRecords || s.bytes+r.size() > s.maxBytes {
		s.sweep(now)
		if len(s.records) >= s.maxRecords || s.bytes+r.size() > s.maxBytes {
			return Claim{}, ErrStoreFull
		}
	}
	s.records[key] = r
	s.bytes += r.size()
	if r.until.Before(s.sweepAfter) {
		s.sweepAfter = r.until
	}
	return Claim{Acquired: true}, nil
}

// Complete implements [Store.Complete].
func (s *MemoryStore) Complete(ctx context.Context, key, token string, response []byte, now time.Time, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(key, now)
	if r == nil || r.completed || r.token != token {
		return ErrLeaseLost
	}
	grow := int64(len(response))
	if s.bytes+grow > s.maxBytes {
		s.sweep(now)
		if s.bytes+grow > s.maxBytes {
			return ErrStoreFull
		}
	}
	r.completed = true
	r.token = ""
	r.response = clone(response)
	r.until = now.Add(ttl)
	s.bytes += grow
	return nil
}

// Release implements [Store.Release].
func (s *MemoryStore) Release(ctx context.Context, key, token string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.live(key, now)
	if r == nil || r.completed || r.token != token {
		return ErrLeaseLost
	}
	s.drop(key, r)
	return nil
}

// Len returns the number of records held, expired ones not yet dropped included.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
