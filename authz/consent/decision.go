package consent

import "strconv"

// Decision is the answer to a consent query.
type Decision int

const (
	// NoConsent: no active rule of the patient applies. What that means is the caller's
	// policy (treatment under implied consent may proceed; research may not). It is the
	// zero value.
	NoConsent Decision = iota
	// Permit: at least one active rule that applies permits, and none denies.
	Permit
	// Deny: at least one active rule that applies denies. Deny overrides Permit. It is
	// also the answer Decide returns with an error.
	Deny
)

// String returns "no-consent", "permit" or "deny", the forms used in audit reasons, and
// "Decision(N)" for any other value.
func (d Decision) String() string {
	switch d {
	case NoConsent:
		return "no-consent"
	case Permit:
		return "permit"
	case Deny:
		return "deny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}
