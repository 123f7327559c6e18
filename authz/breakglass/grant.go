package breakglass

import (
	"fmt"
	"log/slog"
	"time"
)

// Grant is one emergency-access elevation: Actor may reach Patient's data from OpenedAt
// until ExpiresAt, unless it is closed earlier. A grant is never deleted: once closed or
// expired it stays on record for review.
//
// A Grant holds a patient id and free text that may describe a patient's condition. Its
// String, Format and LogValue methods print only the ID, the reason and the times, so
// that a grant passed to a logger or to fmt does not leak them; read the fields directly
// where they are needed.
type Grant struct {
	// ID is the grant's random identifier (32 lowercase hex characters).
	ID string
	// Actor is the Subject of the principal who opened the grant.
	Actor string
	// ActorRef is the principal's FHIRUser ("Practitioner/prac-1"), empty when the token
	// had none.
	ActorRef string
	// Patient is the id of the one patient the grant covers.
	Patient string
	// Reason is the reason code the actor gave ("ETREAT", "BTG", …).
	Reason string
	// Justification is the actor's free-text explanation, trimmed of surrounding white
	// space.
	Justification string
	// OpenedAt is when the grant was opened; ExpiresAt when it stops covering the actor
	// (the grant is active strictly before ExpiresAt).
	OpenedAt, ExpiresAt time.Time
	// ClosedAt is when the grant was closed by its actor, or its ExpiresAt when
	// SweepExpired closed it; zero while it is open.
	ClosedAt time.Time
	// ReviewedAt is when the grant was reviewed; zero while it awaits review.
	ReviewedAt time.Time
	// Reviewer and ReviewNote are who reviewed the grant and what they noted.
	Reviewer, ReviewNote string
}

// ActiveAt reports whether g covers its actor at now: it is not closed and now is before
// ExpiresAt.
func (g Grant) ActiveAt(now time.Time) bool {
	return g.ClosedAt.IsZero() && now.Before(g.ExpiresAt)
}

// String returns a redacted description of g: its ID, reason and times, never the
// patient, the justification or the review note.
func (g Grant) String() string {
	s := "breakglass.Grant{ID: " + g.ID + ", Reason: " + g.Reason +
		", OpenedAt: " + g.OpenedAt.UTC().Format(time.RFC3339) +
		", ExpiresAt: " + g.ExpiresAt.UTC().Format(time.RFC3339)
	if !g.ClosedAt.IsZero() {
		s += ", ClosedAt: " + g.ClosedAt.UTC().Format(time.RFC3339)
	}
	if !g.ReviewedAt.IsZero() {
		s += ", ReviewedAt: " + g.ReviewedAt.UTC().Format(time.RFC3339)
	}
	return s + "}"
}

// Format prints String's redacted form for every verb, %#v and %+v included.
func (g Grant) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(g.String())) }

// LogValue logs g's ID, reason and times, never the patient, the justification or the
// review note.
func (g Grant) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("id", g.ID),
		slog.String("reason", g.Reason),
		slog.Time("opened_at", g.OpenedAt),
		slog.Time("expires_at", g.ExpiresAt),
	}
	if !g.ClosedAt.IsZero() {
		attrs = append(attrs, slog.Time("closed_at", g.ClosedAt))
	}
	if !g.ReviewedAt.IsZero() {
		attrs = append(attrs, slog.Time("reviewed_at", g.ReviewedAt))
	}
	return slog.GroupValue(attrs...)
}
