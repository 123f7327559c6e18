package redisreplay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/phikit/phikit/authn/dpop"
	"github.com/redis/go-redis/v9"
)

// Config configures a Store.
type Config struct {
	// Client is the Redis client (a *redis.Client, *redis.ClusterClient or *redis.Ring).
	// Required. The Store does not close it.
	Client redis.UniversalClient

	// Prefix starts every key. Empty means DefaultPrefix. Give each service that shares
	// a Redis its own.
	Prefix string
}

// DefaultPrefix is the key prefix when Config.Prefix is empty.
const DefaultPrefix = "phikit:dpop:jti:"

// Store is a dpop.ReplayStore in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ dpop.ReplayStore = (*Store)(nil)

// New checks cfg and returns a Store. It does not contact Redis.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisreplay: Config.Client is required")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{client: cfg.Client, prefix: prefix}, nil
}

// Use implements dpop.ReplayStore with one SET key 1 NX PXAT until, until rounded up to
// the millisecond. Any Redis error is returned, and the proof is refused.
func (s *Store) Use(ctx context.Context, jti string, until time.Time) (bool, error) {
	sum := sha256.Sum256([]byte(jti))
	key := s.prefix + hex.EncodeToString(sum[:])
	ms := until.Add(time.Millisecond - 1).UnixMilli() // round up
	if ms < 1 {
		ms = 1 // long past: Redis stores nothing
	}
	err := s.client.Do(ctx, "SET", key, "1", "NX", "PXAT", ms).Err()
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, redis.Nil): // NX: the key exists
		return true, nil
	default:
		return false, fmt.Errorf("redisreplay: %w", err)
	}
}
