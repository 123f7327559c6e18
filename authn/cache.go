package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens, keyed by the SHA-256 of the whole token, so that
// a token seen again within its lifetime is accepted without repeating the signature
// check. It holds at most its capacity in entries, split across shards to keep lock
// contention low; a full shard first drops expired entries, then an arbitrary one. An
// entry never outlives its token's exp. It is safe for concurrent use.
type tokenCache struct {
	shards [cacheShards]cacheShard
	per    int // capacity per shard
}

const cacheShards = 32

type cacheShard struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	p   *Principal
	err error // a definitive refusal (from introspection) when p is nil
	exp time.Time
}

func newTokenCache(capacity int) *tokenCache {
	c := &tokenCache{per: max(1, capacity/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(key *[sha256.Size]byte) *cacheShard {
	return &c.shards[key[0]%cacheShards]
}

// get returns the principal of a token verified before — or the error it was refused
// with — if its entry has not expired.
func (c *tokenCache) get(key *[sha256.Size]byte, now time.Time) (*Principal, error, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.m[*key]
	if ok && !now.Before(e.exp) {
		delete(s.m, *key)
		ok = false
	}
	s.mu.Unlock()
	return e.p, e.err, ok
}

// put remembers p, or the refusal err, until exp.
func (c *tokenCache) put(key *[sha256.Size]byte, p *Principal, err error, exp, now time.Time) {
	if !now.Before(exp) {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[*key]; !ok && len(s.m) >= c.per {
		for k, e := range s.m {
			if !now.Before(e.exp) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.per {
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
	}
	s.m[*key] = cacheEntry{p: p, err: err, exp: exp}
}
