package idempotency

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/problem"
)

// Errors the Preconditions middleware returns from Check and hands to
// PreconditionConfig.ErrorHandler. Use errors.Is: the version lookup error wraps the
// Versioner's error as well.
var (
	// ErrPreconditionRequired: a PUT, PATCH or DELETE came without If-Match (or
	// If-None-Match: *). Default answer 428 (problem.PreconditionRequired).
	ErrPreconditionRequired = errors.New("idempotency: precondition required")
	// ErrPreconditionFailed: If-Match names no current version (or the resource does not
	// exist), or If-None-Match names the current one (or is "*" and the resource exists).
	// Default answer 412 (problem.PreconditionFailed).
	ErrPreconditionFailed = errors.New("idempotency: precondition failed")
	// ErrMalformedPrecondition: If-Match or If-None-Match is not valid (see
	// ParseETagList). Default answer 400 (problem.InvalidRequest).
	ErrMalformedPrecondition = errors.New("idempotency: malformed precondition")
	// ErrVersionUnavailable: the Versioner failed, so the current version is unknown.
	// Default answer 503 (problem.Unavailable) with Retry-After: 1.
	ErrVersionUnavailable = errors.New("idempotency: current version unavailable")
)

// Rejections recorded in audit.Event.Rejection when the Preconditions middleware refuses
// a request.
const (
	RejectionPreconditionRequired  = "idempotency.precondition-required"
	RejectionPreconditionFailed    = "idempotency.precondition-failed"
	RejectionPreconditionMalformed = "idempotency.precondition-malformed"
	RejectionVersionUnavailable    = "idempotency.version-unavailable"
)

// Versioner tells the Preconditions middleware the current version of the resource a
// request targets, as the entity-tag the server sends in its ETag field (`"…"` from
// [StrongETag] or [ETagFromVersion], or `W/"versionId"` from [FHIRVersionETag]).
//
// CurrentETag returns exists false when the target does not exist (the etag is then
// ignored), and an error when it cannot tell; the middleware then refuses the request
// (503) without running the handler. It takes the request, for its path values and its
// context; it must not read the body. It must apply the same access rules as the
// handler (run the middleware after authorization), since its answer decides between
// 412 and the handler's own response. It is called once per checked request and must be
// safe for concurrent use.
type Versioner interface {
	CurrentETag(r *http.Request) (etag string, exists bool, err error)
}

// VersionerFunc adapts a function to [Versioner].
type VersionerFunc func(r *http.Request) (etag string, exists bool, err error)

// CurrentETag returns f(r).
func (f VersionerFunc) CurrentETag(r *http.Request) (string, bool, error) { return f(r) }

// PreconditionConfig configures [NewPreconditions]. Versioner is required.
type PreconditionConfig struct {
	// Versioner gives the current version of a request's target. Required.
	Versioner Versioner

	// FHIR compares If-Match the way FHIR servers do (FHIR R4 http.html#concurrency):
	// the server sends ETag: W/"<versionId>" and clients send If-Match: W/"<versionId>",
	// so If-Match matches when a listed tag's opaque-tag equals the current one's,
	// whether either is weak or strong (W/"3", and "3", both match a current W/"3" or
	// "3"; W/"2" does not). This is RFC 9110's weak comparison, which the RFC forbids
	// for If-Match; it is sound only when the tag is the versionId, which changes with
	// every update. False means RFC 9110's strong comparison: a weak tag on either side
	// never matches, so a FHIR client's W/"3" is always refused with 412.
	FHIR bool

	// InsecureAllowUnconditional lets a PUT, PATCH or DELETE without If-Match (or
	// If-None-Match: *) through to the handler unchecked, so two clients can overwrite
	// each other's changes (the lost update, RFC 9110 §13.1.1). False (the default)
	// answers such a request 428 (RFC 6585 §3). Conditions that are sent are evaluated
	// either way.
	InsecureAllowUnconditional bool

	// ErrorHandler answers a refused request; err wraps ErrPreconditionRequired,
	// ErrPreconditionFailed, ErrMalformedPrecondition or ErrVersionUnavailable, or else
	// reports a Versioner that returned an invalid entity-tag. It must not write
	// err.Error() or any request value. Nil means problem.Write with
	// problem.PreconditionRequired (428), PreconditionFailed (412), InvalidRequest (400),
	// Unavailable (503), or Internal (500) for an invalid Versioner answer.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives, by kind only, the Versioner's errors and invalid answers; nil
	// means discard. Refusals of clients' requests are not logged (the audit event
	// records them).
	Logger *slog.Logger
}

// Preconditions checks If-Match and If-None-Match (RFC 9110 §13.1.1–2) on unsafe requests
// against the version a Versioner reports, so that a client that read version 3 cannot
// overwrite version 4. Build one with [NewPreconditions]. It is immutable and safe for
// concurrent use.
type Preconditions struct {
	versioner        Versioner
	fhir             bool
	allowUncondition bool
	onError          func(http.ResponseWriter, *http.Request, error)
	logger           *slog.Logger
}

// NewPreconditions checks cfg and returns the middleware, or an error wrapping
// ErrInvalidConfig.
func NewPreconditions(cfg PreconditionConfig) (*Preconditions, error) {
	if cfg.Versioner == nil {
		return nil, fmt.Errorf("idempotency: PreconditionConfig.Versioner is required: %w", ErrInvalidConfig)
	}
	p := &Preconditions{
		versioner:        cfg.Versioner,
		fhir:             cfg.FHIR,
		allowUncondition: cfg.InsecureAllowUnconditional,
		onError:          cfg.ErrorHandler,
		logger:           cfg.Logger,
	}
	if p.onError == nil {
		p.onError = writePreconditionProblem
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Checked is what the Preconditions middleware checked a request against, handed to the
// handler through the context ([CheckedFromContext]).
type Checked struct {
	// ETag is the current entity-tag the Versioner returned; zero when Exists is false.
	ETag ETag
	// Exists reports that the target existed when it was checked.
	Exists bool
}

type checkedCtxKey struct{}

// CheckedFromContext returns what the Preconditions middleware checked the request of ctx
// against. ok is false when no check ran: a safe method, a request refused, or an
// unconditional request let through by InsecureAllowUnconditional.
//
// The check and the handler's write are two steps, and another request can change the
// resource between them. The handler must therefore write conditionally on the version
// it was checked against — a compare-and-set such as
//
//	UPDATE patient SET … , version = version + 1 WHERE id = $1 AND version = $2
//
// with $2 from c.ETag.Opaque, or a create that fails when the row exists for
// !c.Exists — and answer 412 when that write finds nothing to change.
func CheckedFromContext(ctx context.Context) (c Checked, ok bool) {
	c, ok = ctx.Value(checkedCtxKey{}).(Checked)
	return c, ok
}

// Check decides r and returns nil when it may proceed, or an error wrapping one of
// ErrPreconditionRequired, ErrPreconditionFailed, ErrMalformedPrecondition and
// ErrVersionUnavailable (or, for a Versioner that returned an invalid entity-tag,
// ErrInvalidETag). It follows RFC 9110 §13.2.2:
//
//   - Safe methods (GET, HEAD, OPTIONS, TRACE) pass untouched; a handler that wants 304s
//     uses http.ServeContent or its own check.
//   - A PUT, PATCH or DELETE without If-Match, and without If-None-Match: * (create only
//     if absent), fails with ErrPreconditionRequired (unless
//     InsecureAllowUnconditional), before the Versioner is asked. Other unsafe methods
//     (POST, …) need no condition, but those they carry are evaluated.
//   - A malformed If-Match or If-None-Match fails with ErrMalformedPrecondition: it is
//     never treated as absent.
//   - If-Match: fails when the target does not exist; "*" matches when it does; a list
//     matches when one tag matches the current one, compared strongly (or, in FHIR mode,
//     by opaque-tag).
//   - If-None-Match, evaluated when If-Match passed or is absent: "*" fails when the
//     target exists; a list fails when one tag weakly matches the current one.
//
// If-Modified-Since and If-Unmodified-Since are not evaluated.
func (p *Preconditions) Check(r *http.Request) error {
	_, _, err := p.check(r)
	return err
}

// check is Check, also returning what was checked and whether a check ran.
func (p *Preconditions) check(r *http.Request) (c Checked, ran bool, err error) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return Checked{}, false, nil
	}
	ifMatch := r.Header["If-Match"]
	ifNoneMatch := r.Header["If-None-Match"]
	guarded := r.Method == http.MethodPut || r.Method == http.MethodPatch || r.Method == http.MethodDelete
	if len(ifMatch) == 0 && len(ifNoneMatch) == 0 {
		if guarded && !p.allowUncondition {
			return Checked{}, false, ErrPreconditionRequired
		}
		return Checked{}, false, nil
	}

	// The grammar of both fields first: a malformed field is refused before the
	// Versioner is asked, and even when the other field would decide.
	var matchAny, noneAny bool
	if len(ifMatch) > 0 {
		if matchAny, err = scanETagList(ifMatch, nil); err != nil {
			return Checked{}, false, ErrMalformedPrecondition
		}
	}
	if len(ifNoneMatch) > 0 {
		if noneAny, err = scanETagList(ifNoneMatch, nil); err != nil {
			return Checked{}, false, ErrMalformedPrecondition
		}
	}
	if guarded && len(ifMatch) == 0 && !noneAny && !p.allowUncondition {
		// If-None-Match with a list of tags does not protect an update.
		return Checked{}, false, ErrPreconditionRequired
	}

	raw, exists, verr := p.versioner.CurrentETag(r)
	if verr != nil {
		p.logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: Versioner failed", logattr.Error(verr))
		return Checked{}, false, fmt.Errorf("%w: %w", ErrVersionUnavailable, verr)
	}
	if exists {
		if c.ETag, err = ParseETag(raw); err != nil {
			p.logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: Versioner returned an invalid entity-tag")
			return Checked{}, false, fmt.Errorf("idempotency: Versioner answer: %w", err)
		}
		c.Exists = true
	}

	if len(ifMatch) > 0 {
		if !exists {
			return Checked{}, false, ErrPreconditionFailed
		}
		if !matchAny {
			matched := false
			_, _ = scanETagList(ifMatch, func(t ETag) { // the grammar was checked above
				if p.fhir && t.WeakMatch(c.ETag) || t.StrongMatch(c.ETag) {
					matched = true
				}
			})
			if !matched {
				return Checked{}, false, ErrPreconditionFailed
			}
		}
	}
	if len(ifNoneMatch) > 0 && exists {
		if noneAny {
			return Checked{}, false, ErrPreconditionFailed
		}
		matched := false
		_, _ = scanETagList(ifNoneMatch, func(t ETag) { // the grammar was checked above
			if t.WeakMatch(c.ETag) {
				matched = true
			}
		})
		if matched {
			return Checked{}, false, ErrPreconditionFailed
		}
	}
	return c, true, nil
}

// Handler wraps next: a request that passes Check reaches next, with what it was checked
// against in its context ([CheckedFromContext]); a refused one gets the ErrorHandler's
// answer (by default a problem: 428, 412, 400, 503 or 500) and its rejection
// (RejectionPreconditionRequired, …) in the audit event, and next does not run.
func (p *Preconditions) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ran, err := p.check(r)
		if err != nil {
			rejection, _ := preconditionRefusal(err)
			audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = rejection })
			p.onError(w, r, err)
			return
		}
		if ran {
			r = r.WithContext(context.WithValue(r.Context(), checkedCtxKey{}, c))
		}
		next.ServeHTTP(w, r)
	})
}

// preconditionRefusal names err, as Check returns it, for audit.Event.Rejection, and
// gives the problem type the default ErrorHandler answers it with.
func preconditionRefusal(err error) (rejection string, t problem.Type) {
	switch {
	case errors.Is(err, ErrVersionUnavailable): // first: it wraps the Versioner's error
		return RejectionVersionUnavailable, problem.Unavailable
	case errors.Is(err, ErrPreconditionRequired):
		return RejectionPreconditionRequired, problem.PreconditionRequired
	case errors.Is(err, ErrPreconditionFailed):
		return RejectionPreconditionFailed, problem.PreconditionFailed
	case errors.Is(err, ErrMalformedPrecondition):
		return RejectionPreconditionMalformed, problem.InvalidRequest
	default: // an invalid answer of the Versioner
		return RejectionVersionUnavailable, problem.Internal
	}
}

// writePreconditionProblem is the default ErrorHandler.
func writePreconditionProblem(w http.ResponseWriter, r *http.Request, err error) {
	_, t := preconditionRefusal(err)
	if t == problem.Unavailable {
		w.Header().Set("Retry-After", "1")
	}
	problem.Write(w, r, t)
}
