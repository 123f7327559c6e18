package consent

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Rule is one consent provision of a patient: it permits or denies, to an actor (or
// anyone), access to the patient's data of a category (or any) for a purpose (or any).
// An empty Actor, Purpose or Category means any; a rule with all three empty is
// patient-wide. Values are compared with a Query's exactly (see Query).
//
// A Rule prints (fmt, including %+v and %#v) and logs (slog) with Patient and Actor
// redacted.
type Rule struct {
	// ID identifies the rule in its store, for Revoke and for the audit reasons of the
	// decisions it takes: the id of the FHIR Consent it comes from, or one of its
	// provisions ("consent-17#2"). Required; Put of an existing ID replaces that rule.
	ID string
	// Patient is the FHIR id of the patient the rule is about. Required.
	Patient string
	// Actor is the reference the rule is about: an actor ("Practitioner/prac-1"), which
	// matches Query.Actor, or an organization ("Organization/org-9"), which matches
	// Query.Actor or Query.ActorOrganization. Empty means any actor.
	Actor string
	// Purpose is the HL7 PurposeOfUse code the rule is about ("HRESCH"). Empty means any.
	Purpose string
	// Category is the data category the rule is about ("Observation", a security
	// label). Empty means any.
	Category string
	// Decision is Permit or Deny. Required.
	Decision Decision
	// Created is when the rule was recorded. Zero, on Put, means the store's current
	// time. It is kept for the record and takes no part in decisions.
	Created time.Time
	// Revoked is when the rule was revoked; zero while it is active. A rule with a
	// non-zero Revoked never applies, whatever the time.
	Revoked time.Time
}

// Validate reports whether r may be recorded: ID and Patient set, Decision Permit or
// Deny, every string field at most MaxFieldLength bytes of UTF-8 without control
// characters. The error wraps ErrInvalidRule and names the field, never its value.
func (r Rule) Validate() error {
	for _, f := range [...]struct {
		name, v  string
		required bool
	}{
		{"ID", r.ID, true},
		{"Patient", r.Patient, true},
		{"Actor", r.Actor, false},
		{"Purpose", r.Purpose, false},
		{"Category", r.Category, false},
	} {
		if msg := checkField(f.v, f.required); msg != "" {
			return fmt.Errorf("consent: rule %s %s: %w", f.name, msg, ErrInvalidRule)
		}
	}
	if r.Decision != Permit && r.Decision != Deny {
		return fmt.Errorf("consent: rule Decision is %v, not permit or deny: %w", r.Decision, ErrInvalidRule)
	}
	return nil
}

// ValidateRuleID reports whether id may name a rule, as Rule.Validate requires of
// Rule.ID: not empty, at most MaxFieldLength bytes of UTF-8 without control characters.
// The error wraps ErrInvalidRule. Revoke implementations check their id with it.
func ValidateRuleID(id string) error {
	if msg := checkField(id, true); msg != "" {
		return fmt.Errorf("consent: rule ID %s: %w", msg, ErrInvalidRule)
	}
	return nil
}

// Applies reports whether r takes part in the decision of q: r is active (Revoked is
// zero), r.Patient is q.Patient, and each of r's Actor, Purpose and Category is empty
// or equal to q's, where r.Actor may equal either q.Actor or a non-empty
// q.ActorOrganization. It is the matching every Store implements.
func (r Rule) Applies(q Query) bool {
	return r.Revoked.IsZero() &&
		r.Patient == q.Patient &&
		(r.Actor == "" || r.Actor == q.Actor || (q.ActorOrganization != "" && r.Actor == q.ActorOrganization)) &&
		(r.Purpose == "" || r.Purpose == q.Purpose) &&
		(r.Category == "" || r.Category == q.Category)
}

// String returns r with Patient and Actor redacted.
func (r Rule) String() string {
	s := "consent.Rule{ID:" + strconv.Quote(r.ID) +
		" Patient:" + redact(r.Patient) +
		" Actor:" + redact(r.Actor) +
		" Purpose:" + strconv.Quote(r.Purpose) +
		" Category:" + strconv.Quote(r.Category) +
		" Decision:" + r.Decision.String() +
		" Created:" + r.Created.Format(time.RFC3339Nano)
	if !r.Revoked.IsZero() {
		s += " Revoked:" + r.Revoked.Format(time.RFC3339Nano)
	}
	return s + "}"
}

// Format writes String for every verb, so that %v, %+v, %#v and %s all redact.
func (r Rule) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(r.String())) }

// LogValue returns r as a slog group with Patient and Actor redacted.
func (r Rule) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", r.ID),
		slog.String("patient", redactAttr(r.Patient)),
		slog.String("actor", redactAttr(r.Actor)),
		slog.String("purpose", r.Purpose),
		slog.String("category", r.Category),
		slog.String("decision", r.Decision.String()),
		slog.Time("created", r.Created),
	}
	if !r.Revoked.IsZero() {
		attrs = append(attrs, slog.Time("revoked", r.Revoked))
	}
	return slog.GroupValue(attrs...)
}
