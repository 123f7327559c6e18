package authz

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/netaddr"
	"github.com/phikit/phikit/problem"
)

// CareTeam answers whether a user (a FHIR reference such as "Practitioner/prac-1") has a
// treatment relationship with a patient. An error denies.
type CareTeam interface {
	OnCareTeam(ctx context.Context, user, patient string) (bool, error)
}

// BreakGlass reports an open emergency-access grant for a user and a patient;
// breakglass.BreakGlass implements it. An error denies.
type BreakGlass interface {
	Active(ctx context.Context, p *authn.Principal, patient string) (breakglass.Grant, bool, error)
}

// Compartment tells which patient an existing resource belongs to ("" for none, or when
// it does not exist), so that reads and writes by id of other types than Patient can be
// bound to the patient before the handler runs. An error denies.
type Compartment interface {
	PatientOf(ctx context.Context, resourceType, id string) (string, error)
}

// Config configures an Authorizer.
type Config struct {
	// Resolver maps requests to FHIR interactions. Nil means FHIRResolver{Base: "/fhir"}.
	Resolver RouteResolver
	// CareTeam checks the relationship a user/ scope needs with the patient a request
	// reaches. Nil means user/ scopes reach no patient's data.
	CareTeam CareTeam
	// Compartment finds the patient of a resource addressed by id (Observation/obs-1).
	// Nil means writes by id to other types than Patient are refused in the patient/ and
	// user/ contexts, user/ reads of them are refused, and patient/ reads are checked on
	// the response.
	Compartment Compartment
	// RequireTokenPurpose refuses requests whose purpose of use the token does not vouch
	// for (authn.Principal.PurposeOfUse): the header can then only choose among the
	// token's purposes, and DefaultPurpose is not used. False lets a request name its
	// purpose in the header alone — the client's assertion.
	RequireTokenPurpose bool
	// BreakGlass lets a user/ request reach a patient outside the user's care team while
	// the user holds an open emergency grant for that patient (package breakglass). The
	// grant is recorded in the decision and the audit event. Nil means no break-glass.
	BreakGlass BreakGlass
	// Consent is consulted for every user/ or system/ request that reaches a patient's
	// data: a Deny refuses it (403); an error refuses it (503). It is asked on every
	// request, never cached, so a revocation applies to the next request. The actor is
	// the principal's fhirUser, or "Device/<client id>" for a back-end service; the
	// category is the resource type. Nil means no consent check. Patient-context
	// requests (a patient reaching their own data) do not consult it.
	Consent consent.Store
	// ConsentRequired refuses user/ and system/ requests for which Consent finds no
	// consent at all (opt-in). False (opt-out) lets them through when no rule applies.
	ConsentRequired bool
	// Policies are further conditions (RolePolicy, attribute policies), combined
	// deny-overrides with the scope decision. Nil means none.
	Policies []Policy
	// PurposeHeader is the request header that names the purpose of use. Empty means
	// "X-Purpose-Of-Use". When the token carries purposes (the purpose_of_use claim), the
	// header may only choose among them.
	PurposeHeader string
	// DefaultPurpose is the purpose of use of a request that names none. Empty means a
	// request must name one (400 otherwise).
	DefaultPurpose string
	// Purposes are the accepted purpose-of-use codes. Nil means PurposesOfUse().
	Purposes []string
	// Withhold maps a purpose of use to the JSON fields withheld from responses made
	// under it (minimum necessary): {"HPAYMT": {"Patient.identifier", "Patient.address"}}.
	Withhold map[string][]string
	// BindingStatus is the status of a request refused for reaching another patient than
	// the one in context — before the handler runs or, for a read checked on its
	// response, after — as the default ErrorHandler answers it: 404 (the zero value), so
	// that existence is not revealed, or 403.
	BindingStatus int
	// MaxBodyBytes caps the request bodies read to check patient references, and the
	// responses buffered to carry out obligations. Zero means 1 MiB.
	MaxBodyBytes int64
	// ClientAddress returns the client's address for policies. Nil means the host of
	// Request.RemoteAddr.
	ClientAddress func(*http.Request) (netip.Addr, bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages (a failing policy or relationship check);
	// nil means they are discarded.
	Logger *slog.Logger
	// ErrorHandler answers refused requests; err is, or wraps, one of this package's
	// errors. Nil means a problem body: 403 (insufficient_scope in WWW-Authenticate when
	// a scope is missing), 404 for patient binding, 400 for requests that cannot be
	// authorized, 503 when a dependency fails.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Errors the Authorizer refuses with.
var (
	// ErrUnauthenticated: no authn.Principal in the request context.
	ErrUnauthenticated = errors.New("authz: request not authenticated")
	// ErrDenied: the request is not allowed.
	ErrDenied = errors.New("authz: denied")
	// ErrPatientBinding: the request reaches another patient than the one in context.
	ErrPatientBinding = errors.New("authz: request reaches another patient")
	// ErrPurpose: the purpose of use is missing, repeated or unknown.
	ErrPurpose = errors.New("authz: purpose of use missing or not accepted")
	// ErrMalformedBody: a body that must be read to find the patients it names is not
	// strict JSON (duplicate or case-variant member names, a Patient reference that
	// cannot be resolved, …); a *BodyError says where. Answered 400.
	ErrMalformedBody = errors.New("authz: request body cannot be checked")
	// ErrUnavailable: a relationship, consent or policy check failed; the request is
	// refused (fail closed).
	ErrUnavailable = errors.New("authz: a decision dependency is unavailable")
)

// InsufficientScopeError is ErrDenied for want of a scope; Scope names one that would
// have allowed the request.
type InsufficientScopeError struct {
	Scope string
}

func (e *InsufficientScopeError) Error() string {
	return "authz: insufficient scope, needs " + e.Scope
}

// Unwrap returns ErrDenied.
func (e *InsufficientScopeError) Unwrap() error { return ErrDenied }

// Authorizer decides, for each authenticated request, whether it may proceed: SMART
// scopes, patient binding, relationships, policies and purpose of use, default deny. It
// is safe for concurrent use.
type Authorizer struct {
	resolver      RouteResolver
	careTeam      CareTeam
	compartment   Compartment
	tokenPurpose  bool
	consent       consent.Store
	breakGlass    BreakGlass
	consentReq    bool
	policies      []Policy
	purposeHeader string
	defaultPurp   string
	purposes      map[string]bool
	withhold      map[string][]string
	bindingStatus int
	maxBody       int64
	clientAddr    func(*http.Request) (netip.Addr, bool)
	now           func() time.Time
	logger        *slog.Logger
	onError       func(w http.ResponseWriter, r *http.Request, err error)
	scopes        scopeCache
}

// New checks cfg and returns an Authorizer.
func New(cfg Config) (*Authorizer, error) {
	a := &Authorizer{
		resolver:      cfg.Resolver,
		careTeam:      cfg.CareTeam,
		compartment:   cfg.Compartment,
		tokenPurpose:  cfg.RequireTokenPurpose,
		consent:       cfg.Consent,
		breakGlass:    cfg.BreakGlass,
		consentReq:    cfg.ConsentRequired,
		policies:      slices.Clone(cfg.Policies),
		purposeHeader: cfg.PurposeHeader,
		defaultPurp:   cfg.DefaultPurpose,
		purposes:      map[string]bool{},
		withhold:      map[string][]string{},
		bindingStatus: cfg.BindingStatus,
		maxBody:       cfg.MaxBodyBytes,
		clientAddr:    cfg.ClientAddress,
		now:           cfg.Now,
		logger:        cfg.Logger,
		onError:       cfg.ErrorHandler,
	}
	if a.resolver == nil {
		a.resolver = FHIRResolver{Base: "/fhir"}
	}
	if slices.Contains(a.policies, nil) {
		return nil, errors.New("authz: nil Policy")
	}
	if a.purposeHeader == "" {
		a.purposeHeader = "X-Purpose-Of-Use"
	}
	purposes := cfg.Purposes
	if purposes == nil {
		purposes = PurposesOfUse()
	}
	for _, p := range purposes {
		a.purposes[p] = true
	}
	if a.defaultPurp != "" && !a.purposes[a.defaultPurp] {
		return nil, fmt.Errorf("authz: DefaultPurpose %q is not an accepted purpose", a.defaultPurp)
	}
	for purpose, fields := range cfg.Withhold {
		if !a.purposes[purpose] {
			return nil, fmt.Errorf("authz: Withhold: %q is not an accepted purpose", purpose)
		}
		for _, f := range fields {
			typ, path, ok := strings.Cut(f, ".")
			if !ok || !isResourceType(typ) || path == "" {
				return nil, fmt.Errorf("authz: Withhold: %q is not Type.field", f)
			}
		}
		a.withhold[purpose] = slices.Clone(fields)
	}
	switch a.bindingStatus {
	case 0:
		a.bindingStatus = http.StatusNotFound
	case http.StatusNotFound, http.StatusForbidden:
	default:
		return nil, errors.New("authz: BindingStatus must be 404 or 403")
	}
	switch {
	case a.maxBody == 0:
		a.maxBody = 1 << 20
	case a.maxBody < 0:
		return nil, errors.New("authz: negative MaxBodyBytes")
	}
	if a.clientAddr == nil {
		a.clientAddr = remoteAddr
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.onError == nil {
		a.onError = a.writeError
	}
	return a, nil
}

func remoteAddr(r *http.Request) (netip.Addr, bool) { return netaddr.Peer(r.RemoteAddr) }

// Handler wraps next: every request is decided, the decision recorded in the audit
// event, and only allowed requests reach next — with their search narrowed and their
// response put through the decision's obligations.
func (a *Authorizer) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("authz: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Decide(r)
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Decision = &audit.Decision{Allow: d.Allow, Reasons: d.Reasons}
			if d.Purpose != "" {
				e.PurposeOfUse = []string{d.Purpose}
			}
			for _, id := range d.Patients {
				e.AddPatient(id)
			}
			if d.Patient != "" {
				e.AddPatient(d.Patient)
			}
			if d.BreakGlass != "" {
				e.AddResource(breakglass.EntityType, d.BreakGlass)
				e.PurposeOfUse = append(e.PurposeOfUse, "BTG")
			}
			if err != nil {
				e.Rejection = rejection(err)
			}
		})
		if err != nil {
			a.onError(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, d))
		if len(d.Obligations.Narrowing) > 0 {
			narrow(r, d.Obligations.Narrowing, d.searchForm)
		}
		if len(d.Obligations.Withhold) == 0 && d.Obligations.OnlyPatient == "" && len(d.Obligations.Constraints) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		a.serveWithObligations(w, r, next, d.Obligations)
	})
}

// narrow adds the search parameters to the request's query and, for a POST _search, to
// the form body Decide parsed (form, nil for other requests), so that the handler
// searches only what the decision allows wherever it reads its parameters.
func narrow(r *http.Request, params map[string]string, form url.Values) {
	q := r.URL.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	r.URL.RawQuery = q.Encode()
	if form == nil {
		return
	}
	for k, v := range params {
		form.Set(k, v)
	}
	enc := form.Encode()
	r.Body, r.ContentLength = io.NopCloser(strings.NewReader(enc)), int64(len(enc))
}

func rejection(err error) string {
	switch {
	case errors.Is(err, ErrPatientBinding):
		return "authz.patient-binding"
	case errors.Is(err, ErrPurpose):
		return "authz.purpose"
	case errors.Is(err, ErrUnauthenticated):
		return "authz.unauthenticated"
	case errors.Is(err, ErrUnavailable):
		return "authz.unavailable"
	case errors.Is(err, ErrRoute):
		return "authz.route"
	case errors.Is(err, ErrMalformedBody):
		return "authz.body"
	}
	var ise *InsufficientScopeError
	if errors.As(err, &ise) {
		return "authz.insufficient-scope"
	}
	return "authz.denied"
}

// Decide decides r. It always returns a Decision (with its reasons, for the audit
// trail); a refused request also gets an error saying how to answer it. The request's
// body, when it is read to check patient references, is restored unread for the
// handler. A batch or transaction bundle is allowed only when each of its entries is.
func (a *Authorizer) Decide(r *http.Request) (*Decision, error) {
	return a.decide(r, true)
}

// decide decides r; bundles are decided entry by entry when allowBundle is set (never
// for an entry of a bundle).
func (a *Authorizer) decide(r *http.Request, allowBundle bool) (*Decision, error) {
	d := &Decision{}
	deny := func(err error, reason string) (*Decision, error) {
		d.Allow = false
		d.Reasons = append(d.Reasons, reason)
		return d, err
	}
	p, ok := authn.FromContext(r.Context())
	if !ok {
		return deny(ErrUnauthenticated, "no authenticated principal")
	}
	t, err := a.resolver.Resolve(r)
	if err != nil {
		return deny(err, "not an authorizable FHIR interaction")
	}
	if t.Interaction == InteractionBatch {
		if !allowBundle {
			return deny(ErrDenied, "a bundle inside a bundle")
		}
		return a.decideBundle(r, d)
	}
	purpose, err := a.purpose(r, p)
	if err != nil {
		return deny(err, "purpose of use missing or not accepted")
	}
	d.Purpose = purpose

	scopes := a.scopes.get(p.Scopes)
	perm := t.Interaction.Perm()
	patients, form, err := a.requestPatients(r, t)
	d.Patients, d.searchForm = patients, form
	if err != nil {
		return deny(err, err.Error())
	}

	// The broadest context that grants the interaction decides how patient data is
	// reached: system scopes reach every patient, user scopes those the user has a
	// relationship with, patient scopes only the patient in context.
	var sc *Scope
	for _, ctx := range [...]Context{ContextSystem, ContextUser, ContextPatient} {
		if sc = scopes.Match(ctx, perm, t.Type); sc != nil {
			break
		}
	}
	if sc == nil {
		need := neededScope(p, t, perm)
		return deny(&InsufficientScopeError{Scope: need}, "no scope grants "+t.Type+"."+perm.String()+"; needs "+need)
	}
	d.Context = sc.Context
	d.Reasons = append(d.Reasons, "scope "+sc.Raw)
	if sc.Query != nil {
		// A constraint narrows the search and is checked on every resource returned;
		// other interactions cannot be narrowed, and parameters the check cannot
		// evaluate are refused.
		if t.Interaction != InteractionSearch {
			return deny(ErrDenied, "a query-constrained scope allows searches only")
		}
		d.Obligations.Narrowing = map[string]string{}
		d.Obligations.Constraints = map[string]string{}
		d.Obligations.ConstrainedType = t.Type
		for k, vs := range sc.Query {
			if !checkableConstraint(k) {
				return deny(ErrDenied, "scope constraint "+k+" cannot be checked on results")
			}
			d.Obligations.Narrowing[k] = vs[0]
			d.Obligations.Constraints[k] = vs[0]
		}
	}

	if sc.Context != ContextSystem && r.Header.Get("If-None-Exist") != "" {
		// A conditional create answers with whatever resource matches the condition,
		// whoever's it is.
		return deny(ErrDenied, "conditional create (If-None-Exist) outside the system context")
	}
	switch sc.Context {
	case ContextPatient:
		if err := a.bindPatient(d, p, t, patients); err != nil {
			return deny(ErrPatientBinding, err.Error())
		}
	case ContextUser:
		if len(patients) != 1 {
			return deny(ErrDenied, "a user request must name exactly one patient (in its path, search or body, or through Config.Compartment)")
		}
		d.Patient = patients[0]
		if err := a.checkRelationship(r.Context(), d, p); err != nil {
			return d, err
		}
	case ContextSystem:
		if len(patients) == 1 {
			d.Patient = patients[0]
		}
	}
	if sc.Context != ContextPatient && a.consent != nil {
		if len(patients) == 0 && t.Type != "Patient" {
			// A search or history over every patient, or a resource whose patient is not
			// known (no Compartment), cannot be checked against the patient's consent.
			return deny(ErrDenied, "under a consent check, a request must name its patients")
		}
		for _, patient := range patients {
			if err := a.checkConsent(r.Context(), d, p, t, patient); err != nil {
				return d, err
			}
		}
	}

	req := &Request{Principal: p, Target: t, Context: sc.Context, Patient: d.Patient, Purpose: purpose, Time: a.now()}
	req.Address, _ = a.clientAddr(r)
	for i, pol := range a.policies {
		effect, reason, err := pol.Evaluate(r.Context(), req)
		if err != nil {
			a.logger.LogAttrs(r.Context(), slog.LevelError, "authz: policy failed", slog.Int("policy", i), logattr.Error(err))
			return deny(ErrUnavailable, fmt.Sprintf("policy %d failed", i))
		}
		switch effect {
		case Deny:
			return deny(ErrDenied, reason)
		case Permit:
			d.Reasons = append(d.Reasons, reason)
		}
	}
	d.Obligations.Withhold = a.withhold[purpose]
	d.Allow = true
	return d, nil
}

// neededScope names a scope that would have allowed the request, in the context the
// principal's token suggests.
func neededScope(p *authn.Principal, t Target, perm Perms) string {
	ctx := "system"
	switch {
	case p.Patient != "":
		ctx = "patient"
	case p.FHIRUser != "":
		ctx = "user"
	}
	return ctx + "/" + t.Type + "." + perm.String()
}

// purpose returns the request's purpose of use. When the token carries purposes
// (authn.Principal.PurposeOfUse, vouched for by the issuer), the request may pick one of
// them with the header and gets the first otherwise; a header naming another is refused.
// Without token purposes, the header's single value, or the default. Every purpose must
// be an accepted code.
func (a *Authorizer) purpose(r *http.Request, p *authn.Principal) (string, error) {
	values := r.Header.Values(a.purposeHeader)
	var purpose string
	switch {
	case len(values) > 1:
		return "", ErrPurpose
	case len(values) == 1:
		purpose = values[0]
		if len(p.PurposeOfUse) > 0 && !slices.Contains(p.PurposeOfUse, purpose) {
			return "", ErrPurpose
		}
	case len(p.PurposeOfUse) > 0:
		purpose = p.PurposeOfUse[0]
	case a.tokenPurpose:
		return "", ErrPurpose
	default:
		purpose = a.defaultPurp
	}
	if a.tokenPurpose && !slices.Contains(p.PurposeOfUse, purpose) {
		return "", ErrPurpose
	}
	if !a.purposes[purpose] {
		return "", ErrPurpose
	}
	return purpose, nil
}

// requestPatients returns the patients the request names: in its path, its search
// parameters (the query, and a POST _search form body), its body, and — for an instance
// of another type than Patient — the patient Config.Compartment says it belongs to. It
// also returns the parsed form body of a POST _search (nil for other requests).
func (a *Authorizer) requestPatients(r *http.Request, t Target) (patients []string, form url.Values, err error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: an unreadable query", ErrRoute)
	}
	if t.Type == "Patient" && t.ID != "" {
		patients = append(patients, t.ID)
	}
	if t.Interaction == InteractionSearch {
		if r.Method == http.MethodPost {
			if form, err = a.searchForm(r); err != nil {
				return nil, nil, err
			}
			for k, vs := range form {
				q[k] = append(q[k], vs...)
			}
		}
		found, safe := searchPatients(t.Type, q)
		if !safe {
			return nil, nil, fmt.Errorf("%w: search parameters that can reach other patients", ErrPatientBinding)
		}
		patients = append(patients, found...)
	}
	switch t.Interaction {
	case InteractionCreate, InteractionUpdate, InteractionPatch:
		body, err := a.peekBody(r)
		if err != nil {
			return nil, nil, err
		}
		found, err := bodyPatients(body)
		if err != nil {
			return nil, nil, err
		}
		patients = append(patients, found...)
	}
	if t.ID != "" && t.Type != "Patient" {
		owner, err := a.compartmentOf(r.Context(), t)
		if err != nil {
			return nil, nil, err
		}
		if owner != "" {
			patients = append(patients, owner)
		}
	}
	slices.Sort(patients)
	return slices.Compact(patients), form, nil
}

// compartmentOf returns the patient an existing resource belongs to, "" when it belongs
// to none or does not exist. Without Config.Compartment, writes to instances of other
// types than Patient are refused — their owner cannot be checked before the write — and
// reads are checked on the response instead (patient/ scopes) or refused (user/).
func (a *Authorizer) compartmentOf(ctx context.Context, t Target) (string, error) {
	if a.compartment == nil {
		switch t.Interaction {
		case InteractionUpdate, InteractionPatch, InteractionDelete:
			return "", fmt.Errorf("%w: writing a %s by id needs Config.Compartment to know its patient", ErrDenied, t.Type)
		}
		return "", nil
	}
	owner, err := a.compartment.PatientOf(ctx, t.Type, t.ID)
	if err != nil {
		a.logger.LogAttrs(ctx, slog.LevelError, "authz: compartment lookup failed", logattr.Error(err))
		return "", fmt.Errorf("%w: compartment lookup failed", ErrUnavailable)
	}
	return owner, nil
}

// searchForm reads a POST _search body: form-encoded parameters, checked like the query.
func (a *Authorizer) searchForm(r *http.Request) (url.Values, error) {
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("%w: a POST _search body must be form-encoded", ErrRoute)
	}
	body, err := a.peekBody(r)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: an unreadable search form", ErrRoute)
	}
	return form, nil
}

// peekBody reads r's body up to the cap and puts an identical, unread body back.
func (a *Authorizer) peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, a.maxBody+1))
	_ = r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %w", ErrDenied, err)
	}
	if int64(len(body)) > a.maxBody {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrDenied, a.maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// bindPatient enforces patient binding for a patient/ scope: every patient the request
// names must be the one in context; a search naming none is narrowed to it; a read of
// another type's instance must return data of that patient only.
func (a *Authorizer) bindPatient(d *Decision, p *authn.Principal, t Target, patients []string) error {
	if p.Patient == "" {
		return errors.New("a patient/ scope without a patient in the launch context")
	}
	for _, id := range patients {
		if id != p.Patient {
			return errors.New("the request names another patient than the one in context")
		}
	}
	d.Patient = p.Patient
	switch {
	case len(patients) > 0:
	case t.Interaction == InteractionSearch:
		if d.Obligations.Narrowing == nil {
			d.Obligations.Narrowing = map[string]string{}
		}
		if t.Type == "Patient" {
			d.Obligations.Narrowing["_id"] = p.Patient
		} else {
			d.Obligations.Narrowing["patient"] = p.Patient
		}
	case t.Interaction == InteractionCreate:
		return errors.New("a patient/ create must reference the patient in context")
	default: // reads by id of other types, and history: checked on the way out
		d.Obligations.OnlyPatient = p.Patient
	}
	d.Reasons = append(d.Reasons, "patient in context "+p.Patient)
	return nil
}

// checkRelationship allows a user/ request to reach d.Patient only when the user is on
// the patient's care team.
func (a *Authorizer) checkRelationship(ctx context.Context, d *Decision, p *authn.Principal) error {
	if a.careTeam == nil || p.FHIRUser == "" {
		d.Reasons = append(d.Reasons, "no relationship check configured or no fhirUser: user/ scopes reach no patient")
		return ErrDenied
	}
	ok, err := a.careTeam.OnCareTeam(ctx, p.FHIRUser, d.Patient)
	if err != nil {
		a.logger.LogAttrs(ctx, slog.LevelError, "authz: care-team check failed", logattr.Error(err))
		d.Reasons = append(d.Reasons, "care-team check failed")
		return ErrUnavailable
	}
	if ok {
		d.Reasons = append(d.Reasons, p.FHIRUser+" is on the care team")
		return nil
	}
	d.Reasons = append(d.Reasons, p.FHIRUser+" is not on the care team")
	if a.breakGlass == nil {
		return ErrDenied
	}
	grant, active, err := a.breakGlass.Active(ctx, p, d.Patient)
	switch {
	case err != nil:
		a.logger.LogAttrs(ctx, slog.LevelError, "authz: break-glass lookup failed", logattr.Error(err))
		d.Reasons = append(d.Reasons, "break-glass lookup failed")
		return ErrUnavailable
	case !active:
		return ErrDenied
	}
	d.BreakGlass = grant.ID
	d.Reasons = append(d.Reasons, "break-glass grant "+grant.ID+" ("+grant.Reason+") until "+grant.ExpiresAt.UTC().Format(time.RFC3339))
	return nil
}

// checkConsent asks the consent store about patient's data of type t.Type for d.Purpose.
func (a *Authorizer) checkConsent(ctx context.Context, d *Decision, p *authn.Principal, t Target, patient string) error {
	actor := p.FHIRUser
	if actor == "" {
		actor = "Device/" + p.ClientID
	}
	got, rules, err := a.consent.Decide(ctx, consent.Query{Patient: patient, Actor: actor, Purpose: d.Purpose, Category: t.Type})
	switch {
	case err != nil:
		a.logger.LogAttrs(ctx, slog.LevelError, "authz: consent lookup failed", logattr.Error(err))
		d.Reasons = append(d.Reasons, "consent lookup failed")
		return ErrUnavailable
	case got == consent.Deny:
		d.Reasons = append(d.Reasons, "consent denies "+d.Purpose+" (rules "+strings.Join(rules, ",")+")")
		return ErrDenied
	case got == consent.Permit:
		d.Reasons = append(d.Reasons, "consent permits "+d.Purpose+" (rules "+strings.Join(rules, ",")+")")
	case a.consentReq:
		d.Reasons = append(d.Reasons, "no consent on record for "+d.Purpose)
		return ErrDenied
	}
	return nil
}

// writeError is the default ErrorHandler.
func (a *Authorizer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ise *InsufficientScopeError
	switch {
	case errors.As(err, &ise):
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+ise.Scope+`"`)
		problem.Write(w, r, problem.Forbidden)
	case errors.Is(err, ErrPatientBinding):
		if a.bindingStatus == http.StatusForbidden {
			problem.Write(w, r, problem.Forbidden)
		} else {
			problem.Write(w, r, problem.NotFound)
		}
	case errors.Is(err, ErrUnauthenticated):
		problem.Write(w, r, problem.Unauthenticated)
	case errors.Is(err, ErrMalformedBody):
		p := problem.New(r, problem.InvalidRequest)
		var be *BodyError
		if errors.As(err, &be) {
			p.Errors = []problem.FieldError{{Pointer: be.Pointer, Rule: be.Rule, Detail: bodyRuleDetail(be.Rule)}}
		}
		problem.WriteProblem(w, r, p)
	case errors.Is(err, ErrPurpose), errors.Is(err, ErrRoute):
		problem.Write(w, r, problem.InvalidRequest)
	case errors.Is(err, ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable)
	default:
		problem.Write(w, r, problem.Forbidden)
	}
}

// scopeCache keeps parsed scopes by the scope list they come from, so that a list is
// parsed once however many requests carry it — a token's, or the same grant on the
// principals that mTLS and API-key authenticators build afresh for every request. It is
// bounded: it starts over when full, and lists longer than maxScopeKey are not kept.
type scopeCache struct {
	mu sync.RWMutex
	m  map[string]*Scopes
}

const (
	maxScopeCache = 10_000
	maxScopeKey   = 4 << 10
)

func (c *scopeCache) get(raw []string) *Scopes {
	// The key is each scope prefixed by its length: unambiguous whatever bytes a scope
	// holds (an "scp" array may hold spaces). Built on the stack; looked up without
	// allocating.
	var buf [512]byte
	key := buf[:0]
	for _, s := range raw {
		key = binary.AppendUvarint(key, uint64(len(s)))
		if key = append(key, s...); len(key) > maxScopeKey {
			s, _ := ParseScopes(raw)
			return s
		}
	}
	c.mu.RLock()
	s, ok := c.m[string(key)]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s, _ = ParseScopes(raw)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxScopeCache {
		c.m = make(map[string]*Scopes)
	}
	c.m[string(key)] = s
	c.mu.Unlock()
	return s
}

// bodyRuleDetail is the fixed explanation of a BodyError rule.
func bodyRuleDetail(rule string) string {
	switch rule {
	case "duplicate-key":
		return "This member appears more than once in its object."
	case "case-variant-key":
		return "A member of this object differs from a FHIR element name only by case."
	case "too-deep":
		return "The body is nested too deeply."
	case "trailing-data":
		return "The body has data after its JSON value."
	case "unreadable-reference":
		return "The body names a Patient in a form that cannot be resolved."
	}
	return "The body is not valid JSON."
}
