package authz

import (
	"context"
	"net/netip"
	"net/url"
	"time"

	"github.com/phikit/phikit/authn"
)

// Decision is an authorization decision and why it was taken. The Authorizer records it
// in the request's audit event every time, and puts allowed decisions in the request
// context (FromContext).
type Decision struct {
	Allow bool
	// Reasons explain the decision: the scope that matched, the relationship or grant
	// that allowed patient data, the policy or consent that denied.
	Reasons []string
	// Context is the SMART context the request was allowed in.
	Context Context
	// Patient is the patient whose data the request reaches, when it names one.
	Patient string
	// Patients lists every patient the request names (path, search, body, compartment),
	// allowed or not; all are recorded in the audit event.
	Patients []string
	// Purpose is the purpose of use the request was made under.
	Purpose string
	// BreakGlass is the id of the emergency grant that allowed the request, if one did.
	BreakGlass string
	// Obligations are what the handler's response must still undergo; the Authorizer
	// carries them out.
	Obligations Obligations

	searchForm url.Values // a POST _search's form body as Decide parsed it, for narrowing
}

// Obligations are conditions attached to an allowed decision.
type Obligations struct {
	// Narrowing holds search parameters added to the request so that a search reaches
	// only what the scope allows (the patient in context, a scope's query constraints).
	Narrowing map[string]string
	// Withhold lists the JSON fields ("Patient.identifier") removed from the response.
	Withhold []string
	// OnlyPatient, when set, requires every Patient reference in the response to be this
	// patient; a response that names another is refused as ErrPatientBinding (404 by
	// default, Config.BindingStatus).
	OnlyPatient string
	// Constraints are a query-constrained scope's parameters ("category":
	// "http://…|laboratory"): every resource of ConstrainedType in the response must
	// match them, or the response is refused as ErrDenied (403 by default).
	Constraints     map[string]string
	ConstrainedType string
}

type ctxKey struct{}

// FromContext returns the decision that allowed the request whose context is ctx.
func FromContext(ctx context.Context) (*Decision, bool) {
	d, ok := ctx.Value(ctxKey{}).(*Decision)
	return d, ok
}

// Request is what a Policy decides on.
type Request struct {
	Principal *authn.Principal
	Target    Target
	// Context is the SMART context the scopes allow the request in.
	Context Context
	// Patient is the patient the request reaches, when it names one.
	Patient string
	Purpose string
	// Address is the client's network address, when known.
	Address netip.Addr
	Time    time.Time
}

// Effect is a Policy's answer.
type Effect uint8

// The effects. The Authorizer combines them deny-overrides: one Deny denies, whatever
// the others say; NotApplicable leaves the decision to the rest.
const (
	NotApplicable Effect = iota
	Permit
	Deny
)

// Policy is an attribute or role condition: time of day, network location, client,
// tenant, roles. Evaluate must be safe for concurrent use; an error denies. OPA or Cedar
// can sit behind this interface.
type Policy interface {
	Evaluate(ctx context.Context, req *Request) (Effect, string, error)
}

// PolicyFunc adapts a function to a Policy.
type PolicyFunc func(ctx context.Context, req *Request) (Effect, string, error)

// Evaluate calls f.
func (f PolicyFunc) Evaluate(ctx context.Context, req *Request) (Effect, string, error) {
	return f(ctx, req)
}
