package consent

import (
	"context"
	"time"
)

// Store answers consent queries. Implementations must be safe for concurrent use, pass
// the conformance suite consenttest.Run, and read their rules afresh on every call: no
// cache may outlive a revocation, so that a rule revoked through one replica stops
// applying on the next query of every replica.
type Store interface {
	// Decide answers whether q.Actor may access q.Patient's data of q.Category for
	// q.Purpose, by the rules described in the package documentation, and returns the
	// ids of the rules that decided, sorted (byte order): the denying rules for Deny, the
	// permitting rules for Permit, none for NoConsent. The caller records them as the
	// decision's reasons.
	//
	// An error means the answer is unknown and the caller must deny; Decide then returns
	// Deny and no ids, so that a caller that forgets the error still denies. An invalid q
	// is refused with an error wrapping ErrInvalidQuery, a done ctx with one wrapping
	// ctx.Err().
	Decide(ctx context.Context, q Query) (Decision, []string, error)
}

// Admin is the write side of a Store: it records and revokes rules. Implementations must
// be safe for concurrent use; a change is visible to the next Decide of every Store over
// the same data once the call returns.
type Admin interface {
	// Put records r, replacing the rule with the same ID unless that rule is revoked (an
	// error wrapping ErrRuleRevoked). A zero r.Created is recorded as the store's current
	// time; a non-zero r.Revoked records the rule already revoked. An invalid r is refused
	// with an error wrapping ErrInvalidRule.
	Put(ctx context.Context, r Rule) error
	// Revoke revokes the rule with id id, recording at as the time of revocation (zero
	// means the store's current time). The rule stops applying at once, whatever at says:
	// at is kept for the record, it does not schedule anything. Revoking a revoked rule
	// succeeds and keeps the first time. An unknown id is an error wrapping
	// ErrRuleNotFound, an empty one an error wrapping ErrInvalidRule.
	Revoke(ctx context.Context, id string, at time.Time) error
}
