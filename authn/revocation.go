package authn

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/phikit/phikit/internal/revkey"
)

// Revocations is a deny-list of revoked token ids (jti), per issuer: a token revoked on
// one replica is refused on every replica that shares the list. Implementations must be
// safe for concurrent use and pass the conformance suite revocationtest.Run.
//
// An entry is revoked from Revoke until its until, judged by the implementation's clock
// (its Now): from until on, Revoked reports false and the entry may be dropped. An
// implementation whose backend also expires entries on a clock of its own (a Redis
// server's) must keep them at least that long.
type Revocations interface {
	// Revoke records that the token issuer/jti is revoked until until: the instant from
	// which the token is refused anyway, that is its exp plus whatever leeway the verifier
	// grants past exp. Revoking an entry again never shortens it: it stays revoked until
	// the latest until given. An until at or before now is a no-op that succeeds. An
	// empty issuer or jti is refused with an error wrapping ErrInvalidRevocation.
	Revoke(ctx context.Context, issuer, jti string, until time.Time) error
	// Revoked reports whether issuer/jti is revoked now. An error means the answer is
	// unknown and callers must fail closed (refuse the token). An empty issuer or jti is
	// refused with an error wrapping ErrInvalidRevocation.
	Revoked(ctx context.Context, issuer, jti string) (bool, error)
}

// ErrRevoked is the authentication failure of a token whose jti is on the deny-list.
var ErrRevoked = &Error{"revoked", "token revoked", classInvalidToken}

// Errors of Revocations implementations, which wrap them.
var (
	// ErrInvalidRevocation is an empty issuer or jti given to Revoke or Revoked.
	ErrInvalidRevocation = errors.New("authn: revocation needs an issuer and a jti")
	// ErrRevocationsFull is a Revoke refused because the list holds as many unexpired
	// entries as it may. The revocation was not recorded.
	ErrRevocationsFull = errors.New("authn: revocation list full")
)

// MemoryRevocations is a Revocations held in this process: it protects one replica only.
// It holds at most a fixed number of entries and never forgets an unexpired one to make
// room: when it is full, Revoke fails with ErrRevocationsFull. Expired entries are purged
// lazily, when room is needed. Each entry takes a fixed amount of memory, whatever the
// length of the issuer and jti (they are kept as a SHA-256 digest).
//
// Build it with NewMemoryRevocations. The zero value has room for nothing: every Revoke
// fails with ErrRevocationsFull and nothing is ever revoked. It is safe for concurrent
// use.
type MemoryRevocations struct {
	max int
	now func() time.Time

	mu sync.RWMutex
	m  map[[sha256.Size]byte]time.Time // key → until
	// earliest is at or before the earliest until in m, so no entry has expired before
	// it: a full list is swept only when a sweep can free something.
	earliest time.Time
}

var _ Revocations = (*MemoryRevocations)(nil)

// NewMemoryRevocations returns an empty MemoryRevocations that holds at most maxEntries
// unexpired entries (zero or less: none, so every Revoke fails) and reads the time from
// now (nil means time.Now).
func NewMemoryRevocations(maxEntries int, now func() time.Time) *MemoryRevocations {
	return &MemoryRevocations{max: maxEntries, now: now}
}

func (s *MemoryRevocations) clock() time.Time {
	if s.now == nil {
		return time.Now()
	}
	return s.now()
}

// Revoke records that issuer/jti is revoked until until. It fails with an error wrapping
// ErrRevocationsFull when the list is full and no entry has expired, and with ctx's error
// when ctx is done.
func (s *MemoryRevocations) Revoke(ctx context.Context, issuer, jti string, until time.Time) error {
	if err := checkRevocation(ctx, issuer, jti); err != nil {
		return err
	}
	now := s.clock()
	if !now.Before(until) {
		return nil
	}
	key := revkey.Sum(issuer, jti)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[key]; ok {
		if until.After(old) {
			s.m[key] = until
		}
		return nil
	}
	if len(s.m) >= s.max {
		s.purge(now)
		if len(s.m) >= s.max {
			return fmt.Errorf("authn: revoke: %d unexpired entries held: %w", len(s.m), ErrRevocationsFull)
		}
	}
	if s.m == nil {
		s.m = make(map[[sha256.Size]byte]time.Time)
	}
	if len(s.m) == 0 || until.Before(s.earliest) {
		s.earliest = until
	}
	s.m[key] = until
	return nil
}

// purge drops the entries expired at now, when there may be any. s.mu is held.
func (s *MemoryRevocations) purge(now time.Time) {
	if len(s.m) == 0 || now.Before(s.earliest) {
		return
	}
	var earliest time.Time
	for k, until := range s.m {
		switch {
		case !now.Before(until):
			delete(s.m, k)
		case earliest.IsZero() || until.Before(earliest):
			earliest = until
		}
	}
	s.earliest = earliest
}

// Revoked reports whether issuer/jti is revoked now. It fails only when ctx is done or
// the issuer or jti is empty.
func (s *MemoryRevocations) Revoked(ctx context.Context, issuer, jti string) (bool, error) {
	if err := checkRevocation(ctx, issuer, jti); err != nil {
		return false, err
	}
	key := revkey.Sum(issuer, jti)
	s.mu.RLock()
	until, ok := s.m[key]
	s.mu.RUnlock()
	return ok && s.clock().Before(until), nil
}

// checkRevocation returns the error of a call with ctx, issuer and jti, if any.
func checkRevocation(ctx context.Context, issuer, jti string) error {
	if issuer == "" || jti == "" {
		return ErrInvalidRevocation
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("authn: revocations: %w", err)
	}
	return nil
}
