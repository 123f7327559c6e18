package breakglass

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/phikit/phikit/audit"
)

// Limits and defaults.
const (
	// DefaultDuration is how long a grant lasts when Config.Duration is zero;
	// MaxDuration is the longest Config.Duration accepted.
	DefaultDuration = 15 * time.Minute
	MaxDuration     = 4 * time.Hour
	// DefaultMaxAuthAge is Config.MaxAuthAge when it is zero; MaxMaxAuthAge the longest
	// accepted.
	DefaultMaxAuthAge = 5 * time.Minute
	MaxMaxAuthAge     = time.Hour
	// MinJustification and MaxJustification bound the justification's length, in
	// characters (Unicode code points) after trimming surrounding white space.
	MinJustification = 10
	MaxJustification = 1000
	// MaxReviewNote bounds a review note, in characters.
	MaxReviewNote = 4000
	// MaxBodyBytes bounds the Handler's request body.
	MaxBodyBytes = 8 << 10
)

// DefaultReasons are the reason codes accepted when Config.Reasons is nil: the HL7
// PurposeOfUse codes for emergency treatment and break-the-glass.
func DefaultReasons() []string { return []string{"ETREAT", "BTG"} }

// DefaultRequireAMR is Config.RequireAMR when it is nil: multi-factor authentication.
func DefaultRequireAMR() []string { return []string{"mfa"} }

// Config configures a BreakGlass. Store, EntitledRoles, Audit and Alert are required;
// every other field's zero value is the strict default.
type Config struct {
	// Store keeps the grants. Required. Replicas that enforce the same grants share it
	// (pgbreakglass); NewMemoryStore is for one process.
	Store Store
	// EntitledRoles lists the roles (authn.Principal.Roles) of which a principal must
	// hold at least one to open a grant, and to be covered by one. Required, non-empty.
	EntitledRoles []string
	// Reasons lists the reason codes an actor may give. Nil means DefaultReasons
	// (ETREAT, BTG). Codes are compared exactly.
	Reasons []string
	// Duration is how long a grant lasts. Zero means DefaultDuration (15 minutes); at
	// most MaxDuration (4 hours).
	Duration time.Duration
	// MaxAuthAge is the step-up requirement: the principal's AuthTime may be at most this
	// old when it opens a grant (a principal without AuthTime never qualifies). Zero
	// means DefaultMaxAuthAge (5 minutes); at most MaxMaxAuthAge (1 hour). It is checked
	// when a grant is opened, not while it is used.
	MaxAuthAge time.Duration
	// RequireAMR lists authentication methods that must all be in the principal's AMR.
	// Nil or empty means DefaultRequireAMR ("mfa"): the requirement cannot be switched
	// off.
	RequireAMR []string
	// ACRValues, when set, lists the acr values of which the principal's ACR must be one;
	// they are sent as acr_values in the step-up challenge. Nil means no acr requirement
	// (RequireAMR still applies).
	ACRValues []string
	// Audit receives the emergency-override events: DICOM 110127 "Emergency Override
	// Started" when a grant is opened, 110138 "Emergency Override Stopped" when it is
	// closed or swept. These are events of their own, apart from the request's event.
	// Required. A grant is opened only after its 110127 event is recorded.
	Audit audit.Sink
	// Alert is called once for every grant opened, synchronously, after the grant is
	// stored and before Open returns: page the privacy officer from here. It must be fast
	// (hand slow work to a queue; the actor's request waits for it) and must not retain
	// ctx past its return (use context.WithoutCancel for work that outlives it). A panic
	// in Alert is recovered and logged; the grant stays open, since its 110127 event is
	// already recorded. Required.
	Alert func(ctx context.Context, g Grant)
	// Service names this service in the events' Source. Empty means it is left out.
	Service string
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages (a panicking Alert, a failed store or audit
	// sink), with grant IDs and request ids but never a patient or a justification. Nil
	// means they are discarded.
	Logger *slog.Logger
	// ErrorHandler answers the requests the Handler refuses; err matches one of this
	// package's errors (errors.Is). It must not write err.Error() or anything from the
	// request. Nil means the default: a problem+json body (see Handler), with the
	// WWW-Authenticate challenge for ErrNoPrincipal and ErrStepUpRequired.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// BreakGlass opens, checks and closes emergency-access grants. Build it with New. It is
// immutable and safe for concurrent use.
type BreakGlass struct {
	store      Store
	entitled   []string
	reasons    []string
	duration   time.Duration
	maxAuthAge time.Duration
	amr        []string
	acr        []string
	sink       audit.Sink
	alert      func(context.Context, Grant)
	service    string
	now        func() time.Time
	logger     *slog.Logger
	onError    func(http.ResponseWriter, *http.Request, error)
	challenge  string // the WWW-Authenticate value for ErrStepUpRequired
}

// New checks cfg and returns a BreakGlass. It copies cfg's slices, touches no store and
// starts no goroutine.
func New(cfg Config) (*BreakGlass, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("breakglass: Config.Store is required")
	case cfg.Audit == nil:
		return nil, errors.New("breakglass: Config.Audit is required")
	case cfg.Alert == nil:
		return nil, errors.New("breakglass: Config.Alert is required")
	case len(cfg.EntitledRoles) == 0:
		return nil, errors.New("breakglass: Config.EntitledRoles is required")
	case cfg.Reasons != nil && len(cfg.Reasons) == 0:
		return nil, errors.New("breakglass: Config.Reasons is empty; nil means the defaults")
	case cfg.Duration < 0 || cfg.Duration > MaxDuration:
		return nil, fmt.Errorf("breakglass: Config.Duration must be between 0 and %v", MaxDuration)
	case cfg.MaxAuthAge < 0 || cfg.MaxAuthAge > MaxMaxAuthAge:
		return nil, fmt.Errorf("breakglass: Config.MaxAuthAge must be between 0 and %v", MaxMaxAuthAge)
	}
	b := &BreakGlass{
		store:      cfg.Store,
		entitled:   slices.Clone(cfg.EntitledRoles),
		reasons:    slices.Clone(cfg.Reasons),
		duration:   cfg.Duration,
		maxAuthAge: cfg.MaxAuthAge,
		amr:        slices.Clone(cfg.RequireAMR),
		acr:        slices.Clone(cfg.ACRValues),
		sink:       cfg.Audit,
		alert:      cfg.Alert,
		service:    cfg.Service,
		now:        cfg.Now,
		logger:     cfg.Logger,
		onError:    cfg.ErrorHandler,
	}
	if b.reasons == nil {
		b.reasons = DefaultReasons()
	}
	if len(b.amr) == 0 {
		b.amr = DefaultRequireAMR()
	}
	if b.duration == 0 {
		b.duration = DefaultDuration
	}
	if b.maxAuthAge == 0 {
		b.maxAuthAge = DefaultMaxAuthAge
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	if b.onError == nil {
		b.onError = b.writeError
	}
	for _, list := range []struct {
		field  string
		values []string
	}{
		{"EntitledRoles", b.entitled},
		{"Reasons", b.reasons},
		{"RequireAMR", b.amr},
		{"ACRValues", b.acr},
	} {
		for _, v := range list.values {
			if !token(v) {
				return nil, fmt.Errorf("breakglass: Config.%s value %q is empty, too long, or has spaces, quotes or control characters", list.field, v)
			}
		}
	}
	b.challenge = `Bearer error="insufficient_user_authentication"`
	if len(b.acr) > 0 {
		b.challenge += `, acr_values="` + strings.Join(b.acr, " ") + `"`
	}
	b.challenge += fmt.Sprintf(`, max_age="%d"`, int64(b.maxAuthAge/time.Second))
	return b, nil
}

// token reports whether v is a plain value: 1 to 256 printable ASCII characters other
// than space, quote and backslash (it may be put in a quoted challenge parameter).
func token(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
