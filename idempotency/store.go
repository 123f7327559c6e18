package idempotency

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseLost is returned by Store.Complete and Store.Release when the token no longer
// holds the key's lease: it expired and another request claimed the key, or the record
// is gone. Implementations return it (or an error wrapping it) and change nothing.
var ErrLeaseLost = errors.New("idempotency: lease lost")

// Claim is the outcome of [Store.Claim].
type Claim struct {
	// Acquired reports that the caller now holds the key's lease: it must run the request
	// and then call Complete or Release with the token it passed to Claim. When
	// Acquired is true the other fields are zero.
	Acquired bool

	// The record found, when Acquired is false.

	// Fingerprint is the fingerprint of the request that claimed the key.
	Fingerprint []byte
	// Completed reports that that request finished: Response holds what Complete stored
	// (nil when the response was not replayable). When false, the request still holds
	// the lease until LeaseExpires.
	Completed bool
	// Response is the sealed response stored by Complete.
	Response []byte
	// LeaseExpires is when the in-progress request's lease runs out.
	LeaseExpires time.Time
}

// Store keeps idempotency records: which request claimed a key, and its stored response.
// Keys are opaque, already scoped (principal, method, route) and hashed by the middleware;
// responses are already sealed. Times come from the caller (Config.Now), so that a store
// can be tested on a fake clock and replicas agree on expiry to the accuracy of their
// clocks.
//
// A record is in progress (claimed, lease until a time) or completed (response stored,
// kept until a time). An in-progress record whose lease has run out, and a completed
// record past its keep time, are treated as absent.
//
// Implementations must be safe for concurrent use, and Claim must be atomic: of any
// number of concurrent Claims of one key, at most one is Acquired.
// idempotencytest.RunStoreTests checks one.
type Store interface {
	// Claim takes the lease on key for token, until now+lease, storing fingerprint, if
	// the key has no live record. Otherwise it changes nothing and returns the live
	// record.
	Claim(ctx context.Context, key, token string, fingerprint []byte, now time.Time, lease time.Duration) (Claim, error)
	// Complete stores response (nil: not replayable) as key's completed record, kept
	// until now+ttl, if token still holds the lease at now; otherwise it returns
	// ErrLeaseLost.
	Complete(ctx context.Context, key, token string, response []byte, now time.Time, ttl time.Duration) error
	// Release deletes key's record if token still holds the lease at now (the request
	// failed in a way the client may retry: a 5xx, a panic, a cancelled request);
	// otherwise it returns ErrLeaseLost.
	Release(ctx context.Context, key, token string, now time.Time) error
}

// Sealer encrypts stored responses, which hold PHI, with their record key as additional
// data, so a sealed response cannot be moved to another record. Package crypto's AEAD
// satisfies it; [NewAESGCM] is a local one.
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(ciphertext, additionalData []byte) ([]byte, error)
}
