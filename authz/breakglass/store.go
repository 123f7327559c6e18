package breakglass

import (
	"context"
	"time"
)

// Store keeps grants, shared by every replica that enforces them. MemoryStore is one
// process's; pgbreakglass keeps them in PostgreSQL. The conformance suite in
// breakglasstest states the contract in full; every implementation must pass it.
//
// A Store takes every time it compares from its arguments, never from a clock of its
// own, and keeps times to at least the microsecond. It never deletes a grant. Failures
// of the backend wrap ErrStore; the conditions below are reported with their sentinels
// (wrapped or not). A context that is done makes every method fail. A Store must be safe
// for concurrent use, across processes when it is shared.
type Store interface {
	// Open stores g. g.ID must be new: an ID already stored fails with ErrGrantExists
	// and changes nothing.
	Open(ctx context.Context, g Grant) error
	// Get returns the grant with this ID, and false when there is none.
	Get(ctx context.Context, id string) (Grant, bool, error)
	// Active returns a grant of exactly this actor and patient that is active at now
	// (not closed, now before ExpiresAt), and false when there is none. When several
	// are, it returns the one that expires last.
	Active(ctx context.Context, actor, patient string, now time.Time) (Grant, bool, error)
	// Close sets the grant's ClosedAt to at, which is not zero. It fails with
	// ErrGrantNotFound for an unknown ID and with ErrAlreadyClosed, changing nothing, for
	// a closed grant: of concurrent calls for one grant, exactly one succeeds.
	Close(ctx context.Context, id string, at time.Time) error
	// Expired returns the grants that are not closed and whose ExpiresAt is at or before
	// now, oldest (by OpenedAt, then ID) first.
	Expired(ctx context.Context, now time.Time) ([]Grant, error)
	// PendingReview returns the grants not yet reviewed, open or not, oldest (by
	// OpenedAt, then ID) first.
	PendingReview(ctx context.Context) ([]Grant, error)
	// Review records that reviewer reviewed the grant at at (not zero), with note. It
	// fails with ErrGrantNotFound for an unknown ID and with ErrAlreadyReviewed, changing
	// nothing, for a grant already reviewed.
	Review(ctx context.Context, id, reviewer, note string, at time.Time) error
}
