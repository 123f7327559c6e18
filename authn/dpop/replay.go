package dpop

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"
)

// ReplayStore remembers the jti of every accepted proof for as long as the proof could be
// accepted, so that each proof is used once (RFC 9449 §11.1). Package dpoptest's Run
// checks an implementation; redisreplay is one shared by replicas.
type ReplayStore interface {
	// Use records jti as seen until the time until and reports whether it had been
	// recorded before and not yet expired (a replay). Recording and checking must be one
	// atomic step, also between replicas sharing the store. An error refuses the proof.
	Use(ctx context.Context, jti string, until time.Time) (replayed bool, err error)
}

var _ ReplayStore = (*MemoryReplayStore)(nil)

// DefaultMaxEntries is the capacity of a MemoryReplayStore made with maxEntries ≤ 0.
const DefaultMaxEntries = 100_000

// MemoryReplayStore is a ReplayStore in this process's memory, for a single replica. It
// keeps a SHA-256 hash of each jti, at most maxEntries unexpired ones (about 100 bytes
// each); when full, Use fails with ErrStoreFull and the proof is refused. It is safe for
// concurrent use.
type MemoryReplayStore struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	seen    map[[sha256.Size]byte]struct{}
	expires expiryHeap // the entries of seen, soonest expiry first
}

// NewMemoryReplayStore returns an empty store holding at most maxEntries unexpired jtis
// (maxEntries ≤ 0 means DefaultMaxEntries). now is its clock; nil means time.Now.
//
// Size it for the proofs accepted within Config.MaxAge plus Config.ClockSkew: the
// defaults (100,000 entries, 65 s) allow about 1,500 proofs a second.
func NewMemoryReplayStore(maxEntries int, now func() time.Time) *MemoryReplayStore {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayStore{now: now, max: maxEntries, seen: make(map[[sha256.Size]byte]struct{})}
}

// Use implements ReplayStore. A jti whose until has passed is forgotten.
func (s *MemoryReplayStore) Use(_ context.Context, jti string, until time.Time) (bool, error) {
	key := sha256.Sum256([]byte(jti))
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	for len(s.expires) > 0 && s.expires[0].until <= now {
		delete(s.seen, s.expires.pop().key)
	}
	if _, ok := s.seen[key]; ok {
		return true, nil
	}
	u := until.UnixNano()
	if u <= now {
		return false, nil // nothing to remember
	}
	if len(s.seen) >= s.max {
		return false, ErrStoreFull
	}
	s.seen[key] = struct{}{}
	s.expires.push(expiry{until: u, key: key})
	return false, nil
}

// Len returns the number of unexpired jtis the store holds.
func (s *MemoryReplayStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	n := 0
	for _, e := range s.expires {
		if e.until > now {
			n++
		}
	}
	return n
}

type expiry struct {
	until int64 // Unix nanoseconds
	key   [sha256.Size]byte
}

// expiryHeap is a binary min-heap of expiries, soonest first. (container/heap would
// allocate on every push.)
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if q[parent].until <= q[i].until {
			break
		}
		q[parent], q[i] = q[i], q[parent]
		i = parent
	}
}

func (h *expiryHeap) pop() expiry {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < len(q) && q[l].until < q[least].until {
			least = l
		}
		if r < len(q) && q[r].until < q[least].until {
			least = r
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return top
}
