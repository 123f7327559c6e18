package consent

import "errors"

// Errors of Store and Admin implementations, which wrap them. None of them, and no error
// of this package, contains a patient id, an actor or any other value of a query or rule:
// they name the field at fault only.
var (
	// ErrInvalidQuery is a Query that fails Query.Validate: a required field empty, a
	// field too long or not printable UTF-8. Decide refuses it (and answers Deny).
	ErrInvalidQuery = errors.New("consent: invalid query")
	// ErrInvalidRule is a Rule that fails Rule.Validate, given to Put, or an empty rule id
	// given to Revoke. Nothing was recorded.
	ErrInvalidRule = errors.New("consent: invalid rule")
	// ErrRuleNotFound is a Revoke of an id that no rule has. Nothing was recorded.
	ErrRuleNotFound = errors.New("consent: no rule with that id")
	// ErrRuleRevoked is a Put of an id whose rule is revoked. A revoked rule is never
	// replaced or reactivated, so that a stale or replayed Put cannot undo a patient's
	// withdrawal: record a new rule under a new id instead. Nothing was recorded.
	ErrRuleRevoked = errors.New("consent: rule is revoked")
)
