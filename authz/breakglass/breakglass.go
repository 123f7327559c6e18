package breakglass

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
)

// Open opens a grant for p to reach patient's data, for Config.Duration, and returns it.
//
// In order, it refuses: a nil principal or one without Subject (ErrNoPrincipal); one
// holding no entitled role (ErrNotEntitled); a reason not in Config.Reasons
// (ErrInvalidReason); a missing, short or long justification (ErrJustificationRequired);
// a patient that is not a FHIR id (ErrInvalidPatient); and a principal whose
// authentication is too old or too weak (ErrStepUpRequired). Inputs are checked before
// step-up so that the actor does not re-authenticate only to be told the form was wrong.
//
// When p already holds a grant active for patient, Open returns that grant unchanged
// (not extended, no new event, no new alert), and a nil error: a retried request opens
// nothing twice. Two concurrent first calls may both open one; each is then recorded and
// alerted.
//
// Otherwise the 110127 event is written to Config.Audit first, then the grant is stored,
// then Config.Alert is called. If the audit sink fails, nothing is stored and Open fails
// with ErrAudit: no grant exists that the audit trail does not show. If the store then
// fails, Open closes the grant in case the write landed anyway, writes a 110138 event
// (outcome serious-failure) so that the trail shows the override ended, and fails with
// ErrStore.
func (b *BreakGlass) Open(ctx context.Context, p *authn.Principal, patient, reason, justification string) (Grant, error) {
	g, _, err := b.open(ctx, p, patient, reason, justification)
	return g, err
}

// open is Open, also reporting whether the grant is new.
func (b *BreakGlass) open(ctx context.Context, p *authn.Principal, patient, reason, justification string) (Grant, bool, error) {
	if p == nil || p.Subject == "" {
		return Grant{}, false, ErrNoPrincipal
	}
	if !b.entitledPrincipal(p) {
		return Grant{}, false, ErrNotEntitled
	}
	if !slices.Contains(b.reasons, reason) {
		return Grant{}, false, ErrInvalidReason
	}
	justification, ok := cleanJustification(justification)
	if !ok {
		return Grant{}, false, ErrJustificationRequired
	}
	if !validPatient(patient) {
		return Grant{}, false, ErrInvalidPatient
	}
	now := b.now()
	if !b.steppedUp(p, now) {
		return Grant{}, false, fmt.Errorf("%w: %w", ErrStepUpRequired, &authn.StepUpError{Required: authn.StepUp{
			ACRValues: slices.Clone(b.acr), AMR: slices.Clone(b.amr), MaxAge: b.maxAuthAge,
		}})
	}

	if g, ok, err := b.store.Active(ctx, p.Subject, patient, now); err != nil {
		return Grant{}, false, storeErr("open", err)
	} else if ok {
		if !covers(g, p.Subject, patient, now) {
			return Grant{}, false, errMismatch("open")
		}
		return g, false, nil
	}

	g := Grant{
		ID:            newID(),
		Actor:         p.Subject,
		ActorRef:      p.FHIRUser,
		Patient:       patient,
		Reason:        reason,
		Justification: justification,
		OpenedAt:      now,
		ExpiresAt:     now.Add(b.duration),
	}
	if err := b.sink.Write(ctx, b.event(ctx, EventOverrideStarted, g, p, audit.OutcomeSuccess, "breakglass.opened")); err != nil {
		return Grant{}, false, fmt.Errorf("breakglass: open: %w: %w", ErrAudit, err)
	}
	if err := b.store.Open(ctx, g); err != nil {
		err = storeErr("open", err)
		// The write may have landed all the same (a commit whose answer was lost): close
		// the grant, which does nothing if it was not stored, and show on the trail that
		// the override stopped. The client may be gone; both must still be done.
		ctx := context.WithoutCancel(ctx)
		g.ClosedAt = now
		if cerr := b.store.Close(ctx, g.ID, now); cerr != nil && !errors.Is(cerr, ErrGrantNotFound) && !errors.Is(cerr, ErrAlreadyClosed) {
			err = errors.Join(err, storeErr("roll back the failed open", cerr))
		}
		if aerr := b.sink.Write(ctx, b.event(ctx, EventOverrideStopped, g, p, audit.OutcomeSeriousFailure, "breakglass.store-failed")); aerr != nil {
			err = errors.Join(err, fmt.Errorf("breakglass: record the failed open: %w: %w", ErrAudit, aerr))
		}
		return Grant{}, false, err
	}
	b.callAlert(ctx, g)
	return g, true, nil
}

// callAlert calls the Alert hook, recovering a panic.
func (b *BreakGlass) callAlert(ctx context.Context, g Grant) {
	defer func() {
		if v := recover(); v != nil {
			// The panic value may carry the grant's contents: log its type only.
			b.logger.LogAttrs(ctx, slog.LevelError, "breakglass: Alert panicked; the grant stays open",
				slog.String("grant", g.ID), slog.String("panic_type", fmt.Sprintf("%T", v)))
		}
	}()
	b.alert(ctx, g)
}

// Active returns the grant that covers p for patient now, and false when none does: p
// holds no entitled role (any more), or has no grant for exactly this patient that is
// open and unexpired. An error (wrapping ErrStore) means the answer is unknown: the
// caller must deny.
//
// Active is the check an authorizer makes on every request that is otherwise refused; it
// costs one Store.Active call. Step-up is not re-checked: a grant lasts its Duration
// even after the authentication that opened it has grown older than MaxAuthAge.
func (b *BreakGlass) Active(ctx context.Context, p *authn.Principal, patient string) (Grant, bool, error) {
	if p == nil || p.Subject == "" || patient == "" || !b.entitledPrincipal(p) {
		return Grant{}, false, nil
	}
	now := b.now()
	g, ok, err := b.store.Active(ctx, p.Subject, patient, now)
	if err != nil {
		return Grant{}, false, storeErr("active", err)
	}
	if !ok {
		return Grant{}, false, nil
	}
	if !covers(g, p.Subject, patient, now) {
		return Grant{}, false, errMismatch("active")
	}
	return g, true, nil
}

// Close closes the grant with this id, which p must have opened, and writes its 110138
// event. Closing a grant that is already closed (by its actor or by SweepExpired) does
// nothing and returns nil. An unknown id, and a grant opened by another actor, fail
// with ErrGrantNotFound. Closing needs no entitlement: an actor who has lost the role
// can still close their grant.
//
// The grant is closed first, then the event written: if the sink fails, Close returns an
// error wrapping ErrAudit but the grant is closed (access ends; the trail, which shows the
// override started, does not show when).
func (b *BreakGlass) Close(ctx context.Context, p *authn.Principal, id string) error {
	if p == nil || p.Subject == "" {
		return ErrNoPrincipal
	}
	if id == "" || len(id) > 128 {
		return ErrGrantNotFound
	}
	g, ok, err := b.store.Get(ctx, id)
	if err != nil {
		return storeErr("close", err)
	}
	if !ok || g.Actor != p.Subject {
		return ErrGrantNotFound
	}
	if !g.ClosedAt.IsZero() {
		return nil
	}
	g.ClosedAt = b.now()
	if g.ExpiresAt.Before(g.ClosedAt) {
		g.ClosedAt = g.ExpiresAt // it ended then; Close only records it
	}
	_, err = b.close(ctx, g, p, "breakglass.closed")
	return err
}

// close closes g (whose ClosedAt is set) in the store and writes its 110138 event. It
// reports whether this call closed it: false when another call did meanwhile (and wrote
// the event), or when the store failed.
func (b *BreakGlass) close(ctx context.Context, g Grant, p *authn.Principal, why string) (bool, error) {
	if err := b.store.Close(ctx, g.ID, g.ClosedAt); errors.Is(err, ErrAlreadyClosed) {
		return false, nil
	} else if err != nil {
		return false, storeErr("close", err)
	}
	if err := b.sink.Write(ctx, b.event(ctx, EventOverrideStopped, g, p, audit.OutcomeSuccess, why)); err != nil {
		return true, fmt.Errorf("breakglass: close: grant closed, event not recorded: %w: %w", ErrAudit, err)
	}
	return true, nil
}

// SweepExpired closes the grants that expired without being closed, recording ClosedAt
// as their ExpiresAt, and writes a 110138 event for each, so that every override's stop
// is on the audit trail. It returns how many it closed. Run it periodically (every
// minute, say) on one replica or several: a grant is closed, and its event written, by
// exactly one caller. Expired grants are not active whether or not they are swept; the
// sweep only completes the trail.
//
// It goes on after an error and returns them all joined.
func (b *BreakGlass) SweepExpired(ctx context.Context) (int, error) {
	expired, err := b.store.Expired(ctx, b.now())
	if err != nil {
		return 0, storeErr("sweep", err)
	}
	n := 0
	var errs []error
	for _, g := range expired {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		g.ClosedAt = g.ExpiresAt
		closed, err := b.close(ctx, g, nil, "breakglass.expired")
		if err != nil {
			errs = append(errs, err)
		}
		if closed {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// PendingReview returns the grants not yet reviewed, open or not, oldest first.
func (b *BreakGlass) PendingReview(ctx context.Context) ([]Grant, error) {
	gs, err := b.store.PendingReview(ctx)
	if err != nil {
		return nil, storeErr("pending review", err)
	}
	return gs, nil
}

// Review records that reviewer (a subject, as in authn.Principal.Subject) reviewed the
// grant with this id, with note, which drops it from PendingReview. It fails with
// ErrInvalidReview for an empty reviewer or a note that is not valid UTF-8 or is longer
// than MaxReviewNote characters, with ErrSelfReview when the reviewer is the grant's
// actor, and with ErrGrantNotFound or ErrAlreadyReviewed. A grant may be reviewed while
// it is still open.
func (b *BreakGlass) Review(ctx context.Context, id, reviewer, note string) error {
	if reviewer == "" || !utf8.ValidString(note) || utf8.RuneCountInString(note) > MaxReviewNote {
		return ErrInvalidReview
	}
	if id == "" || len(id) > 128 {
		return ErrGrantNotFound
	}
	g, ok, err := b.store.Get(ctx, id)
	if err != nil {
		return storeErr("review", err)
	}
	if !ok {
		return ErrGrantNotFound
	}
	if g.Actor == reviewer {
		return ErrSelfReview
	}
	if err := b.store.Review(ctx, id, reviewer, note, b.now()); errors.Is(err, ErrGrantNotFound) || errors.Is(err, ErrAlreadyReviewed) {
		return err
	} else if err != nil {
		return storeErr("review", err)
	}
	return nil
}

// covers reports whether g, which a store returned as active, is active for exactly
// actor and patient: a store that answers otherwise is broken, and is not believed.
func covers(g Grant, actor, patient string, now time.Time) bool {
	return g.Actor == actor && g.Patient == patient && g.ActiveAt(now)
}

func errMismatch(op string) error {
	return fmt.Errorf("breakglass: %s: %w: the store answered with a grant that does not cover the request", op, ErrStore)
}

// entitledPrincipal reports whether p holds one of the entitled roles.
func (b *BreakGlass) entitledPrincipal(p *authn.Principal) bool {
	for _, r := range p.Roles {
		if slices.Contains(b.entitled, r) {
			return true
		}
	}
	return false
}

// steppedUp reports whether p authenticated recently and strongly enough at now. An
// AuthTime in the future (clock skew) counts as now.
func (b *BreakGlass) steppedUp(p *authn.Principal, now time.Time) bool {
	if p.AuthTime.IsZero() || now.Sub(p.AuthTime) > b.maxAuthAge {
		return false
	}
	if len(b.acr) > 0 && !slices.Contains(b.acr, p.ACR) {
		return false
	}
	for _, m := range b.amr {
		if !slices.Contains(p.AMR, m) {
			return false
		}
	}
	return true
}

// cleanJustification trims j and reports whether it is acceptable.
func cleanJustification(j string) (string, bool) {
	if !utf8.ValidString(j) {
		return "", false
	}
	j = strings.TrimSpace(j)
	if n := utf8.RuneCountInString(j); n < MinJustification || n > MaxJustification {
		return "", false
	}
	for _, r := range j {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", false
		}
	}
	return j, true
}

// validPatient reports whether id is a FHIR logical id: 1 to 64 of [A-Za-z0-9.-].
func validPatient(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// newID returns a random grant id: 128 bits in lowercase hex.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return hex.EncodeToString(b[:])
}
