package breakglass

import (
	"errors"
	"fmt"
)

// Refusals of Open (and of the Handler). Compare with errors.Is. None of them carries the
// patient, the justification or anything else from the request.
var (
	// ErrNoPrincipal: there is no authenticated principal, or it has no subject. The
	// Handler answers 401.
	ErrNoPrincipal = errors.New("breakglass: no authenticated principal")
	// ErrNotEntitled: the principal holds none of Config.EntitledRoles. The Handler
	// answers 403.
	ErrNotEntitled = errors.New("breakglass: principal not entitled to break the glass")
	// ErrStepUpRequired: the principal did not authenticate recently enough
	// (Config.MaxAuthAge), or strongly enough (Config.RequireAMR, Config.ACRValues). The
	// error also matches authn.ErrInsufficientAuthentication, and errors.As finds an
	// *authn.StepUpError that carries the requirement. The Handler answers 401 with an
	// RFC 9470 challenge:
	//
	//	WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age="300"
	ErrStepUpRequired = errors.New("breakglass: recent multi-factor authentication required")
	// ErrInvalidReason: the reason code is not one of Config.Reasons. 400.
	ErrInvalidReason = errors.New("breakglass: reason code not accepted")
	// ErrJustificationRequired: the justification is missing, shorter than
	// MinJustification or longer than MaxJustification characters (after trimming
	// surrounding white space), not valid UTF-8, or holds control characters other than
	// tab, carriage return and newline. 400.
	ErrJustificationRequired = errors.New("breakglass: a justification of 10 to 1000 characters is required")
	// ErrInvalidPatient: the patient is not a FHIR logical id (1 to 64 of A-Z, a-z,
	// 0-9, '-' and '.'). 400.
	ErrInvalidPatient = errors.New("breakglass: patient is not a valid id")
)

// Failures of the stores and of the audit trail. Operations that meet one fail closed: no
// grant is opened, and Active answers no.
var (
	// ErrStore: the grant store failed or gave an answer that cannot be used; the
	// outcome is unknown. BreakGlass wraps every unexpected store error with it, and
	// Store implementations wrap it for backend failures. The Handler answers 503.
	ErrStore = errors.New("breakglass: grant store failed")
	// ErrAudit: the audit sink did not record an emergency-override event. An Open that
	// meets it opened nothing; a Close that meets it did close the grant. The Handler
	// answers 503.
	ErrAudit = errors.New("breakglass: audit trail unavailable")
)

// Conditions that Store implementations report, and that BreakGlass passes on where
// they concern the caller.
var (
	// ErrGrantExists: Store.Open was given an ID that is already stored.
	ErrGrantExists = errors.New("breakglass: grant id already exists")
	// ErrGrantNotFound: no grant has this ID. BreakGlass.Close also answers it for a
	// grant opened by another actor, so as not to confirm that it exists.
	ErrGrantNotFound = errors.New("breakglass: grant not found")
	// ErrAlreadyClosed: Store.Close was called on a grant that is already closed.
	ErrAlreadyClosed = errors.New("breakglass: grant already closed")
	// ErrAlreadyReviewed: Store.Review was called on a grant that is already reviewed.
	ErrAlreadyReviewed = errors.New("breakglass: grant already reviewed")
	// ErrInvalidReview: BreakGlass.Review was given an empty reviewer, or a note that is
	// longer than MaxReviewNote characters or not valid UTF-8.
	ErrInvalidReview = errors.New("breakglass: invalid review")
	// ErrSelfReview: the reviewer is the actor who opened the grant.
	ErrSelfReview = errors.New("breakglass: a grant cannot be reviewed by its own actor")
)

// Refusals that only the Handler meets, before Open runs.
var (
	// ErrMethodNotAllowed: the request is not a POST. 405, with Allow: POST.
	ErrMethodNotAllowed = errors.New("breakglass: method not allowed")
	// ErrUnsupportedMediaType: the body is not application/json. 415.
	ErrUnsupportedMediaType = errors.New("breakglass: body must be application/json")
	// ErrBodyTooLarge: the body is larger than MaxBodyBytes. 413.
	ErrBodyTooLarge = errors.New("breakglass: body too large")
	// ErrMalformedBody: the body is not one JSON object whose members are exactly
	// "patient", "reason" and "justification" (each once, each a string). 400.
	ErrMalformedBody = errors.New("breakglass: malformed request body")
)

// storeErr wraps an error of the store for op, adding ErrStore when the store did not.
func storeErr(op string, err error) error {
	if errors.Is(err, ErrStore) {
		return fmt.Errorf("breakglass: %s: %w", op, err)
	}
	return fmt.Errorf("breakglass: %s: %w: %w", op, ErrStore, err)
}
