package apikey

import (
	"context"
	"time"
)

// Store keeps key records. Implementations must be safe for concurrent use, and pass the
// conformance suite in package apikeytest. A store receives key ids and records, never a
// key.
//
// The contract:
//
//   - Put stores a new record; it returns ErrExists (or an error wrapping it) when a
//     record with that ID is already stored, and never overwrites one.
//   - Get returns the record with that id, or ErrNotFound. The record is the caller's:
//     it shares no slice with the store's copy. Times compare equal (time.Time.Equal) to
//     what was Put, at microsecond precision.
//   - Revoke sets the record's RevokedAt to at, unless it is already revoked at an
//     earlier time: revocation can be moved earlier, never later and never undone. It
//     returns ErrNotFound for an unknown id.
//   - List returns every record of subject — revoked and expired ones included — ordered
//     by CreatedAt then ID; none is an empty result, not an error.
//
// Authenticate calls only Get, once per request, and fails closed when it errs; there is
// no cache in front of it, so a revocation takes effect on the next request the store
// answers consistently.
type Store interface {
	Put(ctx context.Context, rec Record) error
	Get(ctx context.Context, id string) (Record, error)
	Revoke(ctx context.Context, id string, at time.Time) error
	List(ctx context.Context, subject string) ([]Record, error)
}
