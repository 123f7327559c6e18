package bench

// BenchmarkAuthz compares phikit's authz with Cedar (cedar-go) and Casbin on one
// decision: a practitioner with the role "physician" and the SMART scope
// user/Patient.rs may read Patient/{id} only when the practitioner is on that patient's
// care team; everything else is denied.
//
// Every engine decides from the same *http.Request (GET /fhir/Patient/pat-1) carrying the
// same *authn.Principal, and every engine reads roles and care teams from the same
// in-memory directory below. Cedar and Casbin get a small adapter that does what an
// application would do per request: take the principal from the context, map the method
// and path to an action, a resource type and an id, and build the engine's request.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	"github.com/cedar-policy/cedar-go"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz"
)

// The directory every engine is configured from.
var (
	// directoryRoles: the roles each practitioner holds. phikit reads them from the
	// principal (the token's roles claim); Cedar from the practitioner entity; Casbin from
	// its g (role) rules.
	directoryRoles = map[string][]string{
		"Practitioner/prac-1": {"physician"},
		"Practitioner/prac-2": {"nurse"},
	}
	// directoryCareTeams: the practitioners on each patient's care team. prac-2 is on
	// pat-1's team, so that refusing prac-2 shows the role check (not the care team) at
	// work; pat-3's team has neither.
	directoryCareTeams = map[string][]string{
		"pat-1": {"Practitioner/prac-1", "Practitioner/prac-2"},
		"pat-3": {"Practitioner/prac-9"},
	}
)

// memCareTeam is authz.CareTeam over directoryCareTeams (also Casbin's onCareTeam).
type memCareTeam map[string][]string

func (m memCareTeam) OnCareTeam(_ context.Context, user, patient string) (bool, error) {
	return slices.Contains(m[patient], user), nil
}

func authzPrincipal(fhirUser string, scopes ...string) *authn.Principal {
	return &authn.Principal{
		Subject:  strings.TrimPrefix(fhirUser, "Practitioner/"),
		FHIRUser: fhirUser,
		Roles:    directoryRoles[fhirUser],
		Scopes:   scopes,
	}
}

// authzRequest is a GET of path by p, the way it reaches the authorizer after authn.
func authzRequest(path string, p *authn.Principal) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	return r.WithContext(authn.NewContext(r.Context(), p))
}

// authzCase is one request and the decision every engine must reach.
type authzCase struct {
	name  string
	r     *http.Request
	allow bool
}

func authzCases() []authzCase {
	physician := authzPrincipal("Practitioner/prac-1", "openid", "fhirUser", "user/Patient.rs", "user/Observation.rs")
	nurse := authzPrincipal("Practitioner/prac-2", "openid", "fhirUser", "user/Patient.rs", "user/Observation.rs")
	noScope := authzPrincipal("Practitioner/prac-1", "openid", "fhirUser", "user/Observation.rs")
	return []authzCase{
		{"physician on care team reads pat-1", authzRequest("/fhir/Patient/pat-1", physician), true},
		{"physician not on care team reads pat-3", authzRequest("/fhir/Patient/pat-3", physician), false},
		{"nurse (no physician role) on care team reads pat-1", authzRequest("/fhir/Patient/pat-1", nurse), false},
		{"physician without user/Patient.rs reads pat-1", authzRequest("/fhir/Patient/pat-1", noScope), false},
	}
}

// decideFunc answers allow or deny; an error means the engine failed (a misconfigured
// engine that denies by erroring must not pass for one that denies by policy).
type decideFunc func(r *http.Request) (bool, error)

type authzEngine struct {
	name string
	make func(tb testing.TB) decideFunc
}

var authzEngines = []authzEngine{
	{"phikit-authz", phikitAuthz},
	{"cedar", cedarAuthz},
	{"casbin", casbinAuthz},
}

// phikitAuthz: authz.Decide with a role policy and the in-memory care team. A refusal
// (ErrDenied, InsufficientScopeError) is a deny; any other error is an engine failure.
func phikitAuthz(tb testing.TB) decideFunc {
	roles, err := authz.RolePolicy(map[string][]string{"physician": {"*.cruds"}})
	if err != nil {
		tb.Fatal(err)
	}
	a, err := authz.New(authz.Config{
		CareTeam:       memCareTeam(directoryCareTeams),
		Policies:       []authz.Policy{roles},
		DefaultPurpose: "TREAT",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return func(r *http.Request) (bool, error) {
		d, err := a.Decide(r)
		switch {
		case err == nil:
			return d.Allow, nil
		case errors.Is(err, authz.ErrDenied):
			return false, nil
		}
		return false, err
	}
}

// fhirInstance is the application's own route mapping for the peers: GET
// /fhir/{Type}/{id} is ("read", Type, id).
func fhirInstance(r *http.Request) (action, typ, id string, ok bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/fhir/")
	if !ok || r.Method != http.MethodGet {
		return "", "", "", false
	}
	typ, id, ok = strings.Cut(rest, "/")
	if !ok || typ == "" || id == "" || strings.Contains(id, "/") {
		return "", "", "", false
	}
	return "read", typ, id, true
}

const cedarPolicy = `permit(principal, action == Action::"read", resource)
when {
	principal.roles.contains("physician") &&
	context.scopes.contains("user/Patient.rs") &&
	resource.careTeam.contains(principal)
};`

// cedarUID turns a FHIR reference ("Practitioner/prac-1") into a Cedar entity UID.
func cedarUID(ref string) cedar.EntityUID {
	typ, id, _ := strings.Cut(ref, "/")
	return cedar.NewEntityUID(cedar.EntityType(typ), cedar.String(id))
}

// cedarAuthz: the policy above over entities built once from the directory
// (Practitioner with a roles set, Patient with a careTeam set of Practitioner UIDs); the
// request (principal, action, resource, context.scopes) is built per decision.
func cedarAuthz(tb testing.TB) decideFunc {
	ps, err := cedar.NewPolicySetFromBytes("authz.cedar", []byte(cedarPolicy))
	if err != nil {
		tb.Fatal(err)
	}
	entities := cedar.EntityMap{}
	for user, roles := range directoryRoles {
		vals := make([]cedar.Value, len(roles))
		for i, role := range roles {
			vals[i] = cedar.String(role)
		}
		uid := cedarUID(user)
		entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{"roles": cedar.NewSet(vals...)})}
	}
	for patient, team := range directoryCareTeams {
		vals := make([]cedar.Value, len(team))
		for i, user := range team {
			vals[i] = cedarUID(user)
		}
		uid := cedar.NewEntityUID("Patient", cedar.String(patient))
		entities[uid] = cedar.Entity{UID: uid, Attributes: cedar.NewRecord(cedar.RecordMap{"careTeam": cedar.NewSet(vals...)})}
	}
	return func(r *http.Request) (bool, error) {
		p, ok := authn.FromContext(r.Context())
		if !ok || p.FHIRUser == "" {
			return false, nil
		}
		action, typ, id, ok := fhirInstance(r)
		if !ok {
			return false, nil
		}
		scopes := make([]cedar.Value, len(p.Scopes))
		for i, s := range p.Scopes {
			scopes[i] = cedar.String(s)
		}
		req := cedar.Request{
			Principal: cedarUID(p.FHIRUser),
			Action:    cedar.NewEntityUID("Action", cedar.String(action)),
			Resource:  cedar.NewEntityUID(cedar.EntityType(typ), cedar.String(id)),
			Context:   cedar.NewRecord(cedar.RecordMap{"scopes": cedar.NewSet(scopes...)}),
		}
		decision, diag := cedar.Authorize(ps, entities, req)
		if len(diag.Errors) > 0 {
			return false, fmt.Errorf("cedar: %v", diag.Errors)
		}
		return decision == cedar.Allow, nil
	}
}

// casbinModel: RBAC (g) with ABAC conditions. A policy line grants a role an action on a
// resource type, provided the request carries a scope; onCareTeam checks the
// relationship against the same directory as phikit's CareTeam.
const casbinModel = `
[request_definition]
r = sub, act, typ, id, scopes

[policy_definition]
p = role, act, typ, scope

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.role) && r.act == p.act && r.typ == p.typ && hasScope(r.scopes, p.scope) && onCareTeam(r.sub, r.id)
`

// casbinAuthz: the model above, its policy and role assignments added in code (no
// adapter, no files), and two custom functions.
func casbinAuthz(tb testing.TB) decideFunc {
	m, err := model.NewModelFromString(casbinModel)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := casbin.NewEnforcer(m)
	if err != nil {
		tb.Fatal(err)
	}
	team := memCareTeam(directoryCareTeams)
	e.AddFunction("hasScope", func(args ...any) (any, error) {
		if len(args) != 2 {
			return false, errors.New("hasScope(scopes, scope)")
		}
		scopes, ok1 := args[0].([]string)
		scope, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("hasScope: want []string and string")
		}
		return slices.Contains(scopes, scope), nil
	})
	e.AddFunction("onCareTeam", func(args ...any) (any, error) {
		if len(args) != 2 {
			return false, errors.New("onCareTeam(user, patient)")
		}
		user, ok1 := args[0].(string)
		patient, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("onCareTeam: want two strings")
		}
		return team.OnCareTeam(context.Background(), user, patient)
	})
	if _, err := e.AddPolicy("physician", "read", "Patient", "user/Patient.rs"); err != nil {
		tb.Fatal(err)
	}
	for user, roles := range directoryRoles {
		for _, role := range roles {
			if _, err := e.AddGroupingPolicy(user, role); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return func(r *http.Request) (bool, error) {
		p, ok := authn.FromContext(r.Context())
		if !ok || p.FHIRUser == "" {
			return false, nil
		}
		action, typ, id, ok := fhirInstance(r)
		if !ok {
			return false, nil
		}
		return e.Enforce(p.FHIRUser, action, typ, id, p.Scopes)
	}
}

// checkEngine fails tb unless decide reaches the expected decision, without an engine
// error, on every case.
func checkEngine(tb testing.TB, name string, decide decideFunc) {
	tb.Helper()
	for _, c := range authzCases() {
		got, err := decide(c.r)
		if err != nil {
			tb.Fatalf("%s: %s: engine error: %v", name, c.name, err)
		}
		if got != c.allow {
			tb.Fatalf("%s: %s: allow = %v, want %v", name, c.name, got, c.allow)
		}
	}
}

// TestEnginesAgree: every engine allows the physician on pat-1's care team, and denies
// pat-3 (not on the care team), a practitioner without the physician role, and a token
// without user/Patient.rs.
func TestEnginesAgree(t *testing.T) {
	for _, eng := range authzEngines {
		t.Run(eng.name, func(t *testing.T) {
			checkEngine(t, eng.name, eng.make(t))
		})
	}
}

func BenchmarkAuthz(b *testing.B) {
	for _, eng := range authzEngines {
		b.Run(eng.name, func(b *testing.B) {
			decide := eng.make(b)
			checkEngine(b, eng.name, decide)
			r := authzCases()[0].r
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := decide(r); !ok || err != nil {
					b.Fatalf("denied: %v", err)
				}
			}
		})
	}
}
