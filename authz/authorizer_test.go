package authz_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/consent"
)

type careTeam map[string][]string

func (c careTeam) OnCareTeam(_ context.Context, user, patient string) (bool, error) {
	if user == "Practitioner/broken" {
		return false, errors.New("directory down")
	}
	for _, p := range c[user] {
		if p == patient {
			return true, nil
		}
	}
	return false, nil
}

var (
	patientApp = &authn.Principal{Subject: "patient-user-1", Patient: "pat-1", Method: authn.MethodJWT,
		Scopes: []string{"launch/patient", "patient/Patient.r", "patient/Observation.rs", "patient/Observation.c"}}
	readOnlyApp = &authn.Principal{Subject: "patient-user-1", Patient: "pat-1", Method: authn.MethodJWT,
		Scopes: []string{"patient/Observation.rs"}}
	clinician = &authn.Principal{Subject: "practitioner-1", FHIRUser: "Practitioner/prac-1", Roles: []string{"physician"}, Method: authn.MethodJWT,
		Scopes: []string{"user/Patient.cruds", "user/Observation.cruds"}}
	biller = &authn.Principal{Subject: "billing-1", FHIRUser: "Practitioner/prac-1", Roles: []string{"billing"}, Method: authn.MethodJWT,
		Scopes: []string{"user/Patient.rs", "user/Observation.rs"}}
	brokenDirectory = &authn.Principal{Subject: "x", FHIRUser: "Practitioner/broken", Roles: []string{"physician"},
		Scopes: []string{"user/Patient.r"}}
	labService = &authn.Principal{Subject: "lab-feed", ClientID: "lab-feed", Method: authn.MethodJWT,
		Scopes: []string{"system/Observation.c", "system/Observation.rs"}}
)

type result struct {
	code      int
	challenge string
	reached   bool
	query     url.Values
	body      string
	event     audit.Event
}

func newAuthorizer(t *testing.T, mod func(*authz.Config)) *authz.Authorizer {
	roles, err := authz.RolePolicy(map[string][]string{
		"physician": {"*.cruds"},
		"billing":   {"Patient.rs"},
	})
	require.NoError(t, err)
	cfg := authz.Config{
		CareTeam:       careTeam{"Practitioner/prac-1": {"pat-1", "pat-2"}},
		Policies:       []authz.Policy{roles},
		DefaultPurpose: "TREAT",
		Withhold:       map[string][]string{"HPAYMT": {"Patient.identifier", "Patient.address"}},
	}
	if mod != nil {
		mod(&cfg)
	}
	a, err := authz.New(cfg)
	require.NoError(t, err)
	return a
}

// run sends one request through audit + (a fake authn) + authz + a FHIR-ish handler.
func run(t *testing.T, a *authz.Authorizer, p *authn.Principal, method, target, body string, hdr map[string]string) result {
	t.Helper()
	var res result
	var mu sync.Mutex
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		mu.Lock()
		defer mu.Unlock()
		res.event = *e
		return nil
	})})
	require.NoError(t, err)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res.reached = true
		res.query = r.URL.Query()
		if r.Body != nil {
			got, _ := io.ReadAll(r.Body)
			if string(got) != body {
				t.Errorf("handler got body %q, want the original %q", got, body)
			}
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		switch {
		case strings.HasPrefix(r.URL.Path, "/fhir/Patient/"):
			id := strings.TrimPrefix(r.URL.Path, "/fhir/Patient/")
			_, _ = io.WriteString(w, `{"resourceType":"Patient","id":"`+id+`","identifier":[{"value":"MRN-1"}],"address":[{"city":"X"}],"gender":"female"}`)
		case r.URL.Path == "/fhir/Observation/obs-other":
			_, _ = io.WriteString(w, `{"resourceType":"Observation","id":"obs-other","subject":{"reference":"Patient/pat-2"}}`)
		case r.URL.Path == "/fhir/Observation/obs-own":
			_, _ = io.WriteString(w, `{"resourceType":"Observation","id":"obs-own","subject":{"reference":"Patient/pat-1"}}`)
		default:
			_, _ = io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","total":0}`)
		}
	})
	withPrincipal := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p != nil {
				r = r.WithContext(authn.NewContext(r.Context(), p))
			}
			next.ServeHTTP(w, r)
		})
	}
	var rdr io.Reader
	if body != "" {
		rdr = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rdr)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	aud.Handler(withPrincipal(a.Handler(handler))).ServeHTTP(rec, r)
	res.code = rec.Code
	res.challenge = rec.Header().Get("WWW-Authenticate")
	res.body = rec.Body.String()
	return res
}

func TestDecisions(t *testing.T) {
	a := newAuthorizer(t, nil)
	const obsForPat2 = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-2"}}`
	const obsForPat1 = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-1"}}`
	tests := []struct {
		name      string
		p         *authn.Principal
		method    string
		target    string
		body      string
		hdr       map[string]string
		want      int
		rejection string
		reason    string // a substring of one of the audit decision's reasons
		runs      bool   // the handler runs although the answer is refused (a response check)
	}{
		// Patient context: its own patient only.
		{name: "patient app reads its patient", p: patientApp, method: "GET", target: "/fhir/Patient/pat-1", want: 200, reason: "scope patient/Patient.r"},
		{name: "patient app reads another patient", p: patientApp, method: "GET", target: "/fhir/Patient/pat-2", want: 404, rejection: "authz.patient-binding"},
		{name: "patient app searches its observations", p: patientApp, method: "GET", target: "/fhir/Observation?patient=pat-1", want: 200},
		{name: "patient app searches with Patient/ prefix", p: patientApp, method: "GET", target: "/fhir/Observation?subject=Patient/pat-1", want: 200},
		{name: "patient=other", p: patientApp, method: "GET", target: "/fhir/Observation?patient=pat-2", want: 404, rejection: "authz.patient-binding"},
		{name: "subject=Patient/other", p: patientApp, method: "GET", target: "/fhir/Observation?subject=Patient/pat-2", want: 404, rejection: "authz.patient-binding"},
		{name: "duplicated patient parameter", p: patientApp, method: "GET", target: "/fhir/Observation?patient=pat-1&patient=pat-2", want: 404, rejection: "authz.patient-binding"},
		{name: "comma list of patients", p: patientApp, method: "GET", target: "/fhir/Observation?patient=pat-1,pat-2", want: 404, rejection: "authz.patient-binding"},
		{name: "chained parameter", p: patientApp, method: "GET", target: "/fhir/Observation?patient.name=Smith", want: 404, rejection: "authz.patient-binding"},
		{name: "modifier on patient", p: patientApp, method: "GET", target: "/fhir/Observation?patient:missing=true", want: 404, rejection: "authz.patient-binding"},
		{name: "_include", p: patientApp, method: "GET", target: "/fhir/Observation?patient=pat-1&_include=Observation:subject", want: 404, rejection: "authz.patient-binding"},
		{name: "_has", p: patientApp, method: "GET", target: "/fhir/Observation?_has:Encounter:patient:status=x", want: 404, rejection: "authz.patient-binding"},
		{name: "encoded slash", p: patientApp, method: "GET", target: "/fhir/Patient%2Fpat-2", want: 400, rejection: "authz.route"},
		{name: "type in the wrong case", p: patientApp, method: "GET", target: "/fhir/patient/pat-1", want: 400, rejection: "authz.route"},
		{name: "dot-dot id", p: patientApp, method: "GET", target: "/fhir/Patient/..", want: 400, rejection: "authz.route"},
		{name: "create for its own patient", p: patientApp, method: "POST", target: "/fhir/Observation", body: obsForPat1, want: 200},
		{name: "create referencing another patient", p: patientApp, method: "POST", target: "/fhir/Observation", body: obsForPat2, want: 404, rejection: "authz.patient-binding"},
		{name: "create referencing two patients", p: patientApp, method: "POST", target: "/fhir/Observation",
			body: `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"},"performer":[{"reference":"https://x.example/fhir/Patient/pat-2"}]}`, want: 404, rejection: "authz.patient-binding"},
		{name: "create with no patient reference", p: patientApp, method: "POST", target: "/fhir/Observation", body: `{"resourceType":"Observation"}`, want: 404, rejection: "authz.patient-binding"},
		{name: "create with read-only scopes", p: readOnlyApp, method: "POST", target: "/fhir/Observation", body: obsForPat1, want: 403, rejection: "authz.insufficient-scope"},
		{name: "update with read scope only", p: patientApp, method: "PUT", target: "/fhir/Patient/pat-1", body: `{"resourceType":"Patient","id":"pat-1"}`, want: 403, rejection: "authz.insufficient-scope"},
		{name: "read another type by id: response of its patient", p: patientApp, method: "GET", target: "/fhir/Observation/obs-own", want: 200},
		{name: "read another type by id: response of another patient", p: patientApp, method: "GET", target: "/fhir/Observation/obs-other", want: 404, rejection: "authz.patient-binding", runs: true},

		// User context: care team, roles, purpose.
		{name: "clinician reads a patient on the care team", p: clinician, method: "GET", target: "/fhir/Patient/pat-2", want: 200, reason: "is on the care team"},
		{name: "clinician reads a patient off the care team", p: clinician, method: "GET", target: "/fhir/Patient/pat-3", want: 403, rejection: "authz.denied", reason: "is not on the care team"},
		{name: "clinician updates on the care team", p: clinician, method: "PUT", target: "/fhir/Patient/pat-1", body: `{"resourceType":"Patient","id":"pat-1"}`, want: 200},
		{name: "clinician update with another patient in the body", p: clinician, method: "PUT", target: "/fhir/Patient/pat-1", body: `{"resourceType":"Patient","id":"pat-3"}`, want: 403, rejection: "authz.denied", reason: "exactly one patient"},
		{name: "clinician search must name a patient", p: clinician, method: "GET", target: "/fhir/Observation", want: 403, rejection: "authz.denied", reason: "must name exactly one patient"},
		{name: "billing role cannot read observations", p: biller, method: "GET", target: "/fhir/Observation?patient=pat-1", want: 403, rejection: "authz.denied", reason: "no role grants Observation.s"},
		{name: "billing purpose accepted", p: biller, method: "GET", target: "/fhir/Patient/pat-1", hdr: map[string]string{"X-Purpose-Of-Use": "HPAYMT"}, want: 200, reason: "role billing"},
		{name: "unknown purpose", p: clinician, method: "GET", target: "/fhir/Patient/pat-1", hdr: map[string]string{"X-Purpose-Of-Use": "CURIOSITY"}, want: 400, rejection: "authz.purpose"},
		{name: "relationship check fails: deny", p: brokenDirectory, method: "GET", target: "/fhir/Patient/pat-1", want: 503, rejection: "authz.unavailable"},

		// System context.
		{name: "lab service creates for any patient", p: labService, method: "POST", target: "/fhir/Observation", body: obsForPat2, want: 200},
		{name: "lab service cannot read patients", p: labService, method: "GET", target: "/fhir/Patient/pat-1", want: 403, rejection: "authz.insufficient-scope"},

		// Default deny.
		{name: "no principal", p: nil, method: "GET", target: "/fhir/Patient/pat-1", want: 401, rejection: "authz.unauthenticated"},
		{name: "operation", p: clinician, method: "POST", target: "/fhir/Patient/pat-1/$everything", want: 400, rejection: "authz.route"},
		{name: "batch bundle", p: clinician, method: "POST", target: "/fhir", body: `{"resourceType":"Bundle","type":"batch"}`, want: 403, rejection: "authz.denied"},
		{name: "outside the FHIR base", p: clinician, method: "GET", target: "/admin/users", want: 400, rejection: "authz.route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, a, tt.p, tt.method, tt.target, tt.body, tt.hdr)
			assert.Equal(t, tt.want, res.code, "status; body %s", res.body)
			assert.Equal(t, tt.want == 200 || tt.runs, res.reached, "handler reached")
			require.NotNil(t, res.event.Decision, "the decision is in the audit event")
			assert.Equal(t, tt.want == 200, res.event.Decision.Allow, "decision %v", res.event.Decision)
			assert.Equal(t, tt.rejection, res.event.Rejection)
			if tt.reason != "" {
				assert.Contains(t, strings.Join(res.event.Decision.Reasons, "; "), tt.reason)
			}
			if tt.want == 200 {
				assert.NotEmpty(t, res.event.PurposeOfUse)
			}
			if tt.want != 200 {
				assert.NotContains(t, res.body, "MRN-1", "data leaked in a refusal")
			}
		})
	}
}

func TestInsufficientScopeNamesTheScope(t *testing.T) {
	res := run(t, newAuthorizer(t, nil), readOnlyApp, "POST", "/fhir/Observation",
		`{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"}}`, nil)
	assert.Equal(t, 403, res.code)
	assert.Equal(t, `Bearer error="insufficient_scope", scope="patient/Observation.c"`, res.challenge)
}

func TestSearchNarrowing(t *testing.T) {
	res := run(t, newAuthorizer(t, nil), patientApp, "GET", "/fhir/Observation?code=8867-4", "", nil)
	require.Equal(t, 200, res.code)
	assert.Equal(t, "pat-1", res.query.Get("patient"), "the search was narrowed to the patient in context")
	assert.Equal(t, "8867-4", res.query.Get("code"))

	res = run(t, newAuthorizer(t, nil), patientApp, "GET", "/fhir/Patient", "", nil)
	assert.Equal(t, 403, res.code, "patient/Patient.r has no s")

	scoped := &authn.Principal{Subject: "s", Patient: "pat-1", Scopes: []string{"patient/Observation.rs?category=laboratory"}}
	res = run(t, newAuthorizer(t, nil), scoped, "GET", "/fhir/Observation", "", nil)
	require.Equal(t, 200, res.code)
	assert.Equal(t, "laboratory", res.query.Get("category"), "a query-constrained scope narrows the search")
	assert.Equal(t, "pat-1", res.query.Get("patient"))
}

func TestMinimumNecessaryWithholdsFields(t *testing.T) {
	a := newAuthorizer(t, nil)
	res := run(t, a, biller, "GET", "/fhir/Patient/pat-1", "", map[string]string{"X-Purpose-Of-Use": "HPAYMT"})
	require.Equal(t, 200, res.code)
	assert.NotContains(t, res.body, "MRN-1")
	assert.NotContains(t, res.body, "address")
	assert.Contains(t, res.body, `"gender":"female"`)
	assert.Equal(t, []string{"HPAYMT"}, res.event.PurposeOfUse)

	res = run(t, a, clinician, "GET", "/fhir/Patient/pat-1", "", nil)
	require.Equal(t, 200, res.code)
	assert.Contains(t, res.body, "MRN-1", "treatment sees the identifiers")
	assert.Equal(t, []string{"TREAT"}, res.event.PurposeOfUse)
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []authz.Config{
		{DefaultPurpose: "CURIOSITY"},
		{Withhold: map[string][]string{"NOPE": {"Patient.identifier"}}},
		{Withhold: map[string][]string{"HPAYMT": {"identifier"}}},
		{BindingStatus: 401},
		{MaxBodyBytes: -1},
		{Policies: []authz.Policy{nil}},
	} {
		_, err := authz.New(cfg)
		assert.Error(t, err, "%+v", cfg)
	}
	_, err := authz.RolePolicy(map[string][]string{"x": {"Patient.rx"}})
	assert.Error(t, err)
}

type failingConsent struct{}

func (failingConsent) Decide(context.Context, consent.Query) (consent.Decision, []string, error) {
	return consent.Deny, nil, errors.New("db down")
}

func TestConsent(t *testing.T) {
	store := consent.NewMemoryStore(nil)
	require.NoError(t, store.Put(context.Background(), consent.Rule{ID: "c-research", Patient: "pat-2", Purpose: "HRESCH", Decision: consent.Deny}))
	require.NoError(t, store.Put(context.Background(), consent.Rule{ID: "c-treat", Patient: "pat-2", Purpose: "TREAT", Decision: consent.Permit}))
	a := newAuthorizer(t, func(c *authz.Config) { c.Consent = store })
	required := newAuthorizer(t, func(c *authz.Config) { c.Consent = store; c.ConsentRequired = true })
	broken := newAuthorizer(t, func(c *authz.Config) { c.Consent = failingConsent{} })
	research := map[string]string{"X-Purpose-Of-Use": "HRESCH"}
	tests := []struct {
		name   string
		a      *authz.Authorizer
		p      *authn.Principal
		target string
		hdr    map[string]string
		want   int
		reason string
	}{
		{name: "treatment, consent permits", a: a, p: clinician, target: "/fhir/Patient/pat-2", want: 200, reason: "consent permits TREAT (rules c-treat)"},
		{name: "research, consent denies", a: a, p: clinician, target: "/fhir/Patient/pat-2", hdr: research, want: 403, reason: "consent denies HRESCH (rules c-research)"},
		{name: "no rule, opt-out", a: a, p: clinician, target: "/fhir/Patient/pat-1", want: 200},
		{name: "no rule, opt-in", a: required, p: clinician, target: "/fhir/Patient/pat-1", want: 403, reason: "no consent on record"},
		{name: "rule present, opt-in", a: required, p: clinician, target: "/fhir/Patient/pat-2", want: 200},
		{name: "a system service doing research", a: a, p: labService, target: "/fhir/Observation?patient=pat-2", hdr: research, want: 403, reason: "consent denies"},
		{name: "the patient's own app is not subject to consent", a: a, p: patientApp, target: "/fhir/Patient/pat-1", hdr: research, want: 200},
		{name: "consent store down: deny", a: broken, p: clinician, target: "/fhir/Patient/pat-1", want: 503, reason: "consent lookup failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.a, tt.p, "GET", tt.target, "", tt.hdr)
			assert.Equal(t, tt.want, res.code)
			require.NotNil(t, res.event.Decision)
			assert.Equal(t, tt.want == 200, res.event.Decision.Allow)
			if tt.reason != "" {
				assert.Contains(t, strings.Join(res.event.Decision.Reasons, "; "), tt.reason)
			}
		})
	}

	// Revocation applies to the next request.
	require.NoError(t, store.Revoke(context.Background(), "c-treat", t0()))
	required2 := newAuthorizer(t, func(c *authz.Config) { c.Consent = store; c.ConsentRequired = true })
	res := run(t, required2, clinician, "GET", "/fhir/Patient/pat-2", "", nil)
	assert.Equal(t, 403, res.code)
}

func t0() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }

type failingBreakGlass struct{}

func (failingBreakGlass) Active(context.Context, *authn.Principal, string) (breakglass.Grant, bool, error) {
	return breakglass.Grant{}, false, errors.New("store down")
}

func TestBreakGlass(t *testing.T) {
	now := t0()
	clock := func() time.Time { return now }
	var alerts []breakglass.Grant
	var events []audit.Event
	bg, err := breakglass.New(breakglass.Config{
		Store:         breakglass.NewMemoryStore(),
		EntitledRoles: []string{"emergency"},
		Audit: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
			events = append(events, *e)
			return nil
		}),
		Alert: func(_ context.Context, g breakglass.Grant) { alerts = append(alerts, g) },
		Now:   clock,
	})
	require.NoError(t, err)
	a := newAuthorizer(t, func(c *authz.Config) { c.BreakGlass = bg; c.Now = clock })
	er := &authn.Principal{Subject: "practitioner-1", FHIRUser: "Practitioner/prac-1", Roles: []string{"physician", "emergency"},
		AMR: []string{"pwd", "mfa"}, AuthTime: now.Add(-time.Minute), Scopes: []string{"user/Patient.rs"}}

	res := run(t, a, er, "GET", "/fhir/Patient/pat-3", "", nil)
	require.Equal(t, 403, res.code, "off the care team, no grant")

	grant, err := bg.Open(context.Background(), er, "pat-3", "ETREAT", "unconscious patient in the ED, no records")
	require.NoError(t, err)
	require.Len(t, alerts, 1, "the alert fired")
	require.Len(t, events, 1)
	assert.Equal(t, breakglass.EventOverrideStarted, events[0].Type)

	res = run(t, a, er, "GET", "/fhir/Patient/pat-3", "", nil)
	require.Equal(t, 200, res.code)
	assert.Contains(t, strings.Join(res.event.Decision.Reasons, "; "), "break-glass grant "+grant.ID)
	assert.Contains(t, res.event.Entities, audit.Entity{Kind: audit.EntityResource, Type: breakglass.EntityType, ID: grant.ID})
	assert.Contains(t, res.event.PurposeOfUse, "BTG")

	res = run(t, a, er, "GET", "/fhir/Patient/pat-2", "", nil)
	assert.Equal(t, 200, res.code, "on the care team anyway")
	assert.NotContains(t, strings.Join(res.event.Decision.Reasons, "; "), "break-glass")

	now = now.Add(16 * time.Minute)
	res = run(t, a, er, "GET", "/fhir/Patient/pat-3", "", nil)
	assert.Equal(t, 403, res.code, "the grant expired")

	broken := newAuthorizer(t, func(c *authz.Config) { c.BreakGlass = failingBreakGlass{} })
	res = run(t, broken, er, "GET", "/fhir/Patient/pat-3", "", nil)
	assert.Equal(t, 503, res.code)
}

func TestBundles(t *testing.T) {
	a := newAuthorizer(t, nil)
	entry := func(method, url, resource string) string {
		if resource == "" {
			resource = "null"
		}
		return `{"resource":` + resource + `,"request":{"method":"` + method + `","url":"` + url + `"}}`
	}
	bundle := func(typ string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = entry("GET", "Patient/pat-1", "")
	}
	tests := []struct {
		name   string
		p      *authn.Principal
		body   string
		want   int
		reason string
	}{
		{name: "clinician: reads and an update on the care team", p: clinician, want: 200, reason: "all 2 entries allowed",
			body: bundle("batch", entry("GET", "Patient/pat-1", ""), entry("PUT", "Patient/pat-2", `{"resourceType":"Patient","id":"pat-2"}`))},
		{name: "clinician: one entry off the care team", p: clinician, want: 403, reason: "entry 1 refused",
			body: bundle("transaction", entry("GET", "Patient/pat-1", ""), entry("GET", "Patient/pat-3", ""))},
		{name: "patient app: another patient in an entry", p: patientApp, want: 404, reason: "entry 0 refused",
			body: bundle("batch", entry("POST", "Observation", `{"resourceType":"Observation","subject":{"reference":"Patient/pat-2"}}`))},
		{name: "patient app: a search that would need narrowing", p: patientApp, want: 403, reason: "cannot be carried out inside a bundle",
			body: bundle("batch", entry("GET", "Observation?code=x", ""))},
		{name: "an absolute entry url", p: clinician, want: 403, reason: "relative request url",
			body: bundle("batch", entry("GET", "https://evil.example/fhir/Patient/pat-3", ""))},
		{name: "a bundle inside a bundle", p: clinician, want: 403,
			body: bundle("batch", entry("POST", "", `{"resourceType":"Bundle","type":"batch"}`))},
		{name: "too many entries", p: clinician, want: 403, reason: "1 to 100 entries", body: bundle("batch", many...)},
		{name: "a document bundle is not a batch", p: clinician, want: 403, reason: "not a batch", body: bundle("document", entry("GET", "Patient/pat-1", ""))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, a, tt.p, "POST", "/fhir", tt.body, nil)
			assert.Equal(t, tt.want, res.code)
			require.NotNil(t, res.event.Decision)
			assert.Equal(t, tt.want == 200, res.event.Decision.Allow)
			if tt.reason != "" {
				assert.Contains(t, strings.Join(res.event.Decision.Reasons, "; "), tt.reason)
			}
		})
	}
}

func TestPurposeFromTheToken(t *testing.T) {
	a := newAuthorizer(t, nil)
	withPurpose := *clinician
	withPurpose.PurposeOfUse = []string{"HPAYMT", "TREAT"}
	badClaim := *clinician
	badClaim.PurposeOfUse = []string{"CURIOSITY"}
	tests := []struct {
		name string
		p    *authn.Principal
		hdr  map[string]string
		want int
		got  string
	}{
		{name: "the token's first purpose", p: &withPurpose, want: 200, got: "HPAYMT"},
		{name: "the header picks one of the token's", p: &withPurpose, hdr: map[string]string{"X-Purpose-Of-Use": "TREAT"}, want: 200, got: "TREAT"},
		{name: "the header names one the token lacks", p: &withPurpose, hdr: map[string]string{"X-Purpose-Of-Use": "HRESCH"}, want: 400},
		{name: "an unknown code in the token", p: &badClaim, want: 400},
		{name: "no token purpose: the default", p: clinician, want: 200, got: "TREAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, a, tt.p, "GET", "/fhir/Patient/pat-1", "", tt.hdr)
			assert.Equal(t, tt.want, res.code)
			if tt.got != "" {
				assert.Equal(t, []string{tt.got}, res.event.PurposeOfUse)
			}
		})
	}
}

func TestRequirePurpose(t *testing.T) {
	a := newAuthorizer(t, nil)
	researchOnly, err := a.RequirePurpose("HRESCH")
	require.NoError(t, err)
	_, err = a.RequirePurpose("CURIOSITY")
	assert.Error(t, err)
	_, err = a.RequirePurpose()
	assert.Error(t, err)
	for _, tt := range []struct {
		purpose string
		want    int
	}{{"HRESCH", 204}, {"TREAT", 400}, {"", 400}} {
		r := httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil)
		r = r.WithContext(authn.NewContext(r.Context(), clinician))
		if tt.purpose != "" {
			r.Header.Set("X-Purpose-Of-Use", tt.purpose)
		}
		rec := httptest.NewRecorder()
		a.Handler(researchOnly(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))).ServeHTTP(rec, r)
		assert.Equal(t, tt.want, rec.Code, "purpose %q", tt.purpose)
	}
	rec := httptest.NewRecorder()
	researchOnly(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 400, rec.Code, "outside the Authorizer")
}

func TestScopeConstraintsCheckedOnResults(t *testing.T) {
	a := newAuthorizer(t, nil)
	labOnly := &authn.Principal{Subject: "s", Patient: "pat-1",
		Scopes: []string{"patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"}}
	lab := `{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"subject":{"reference":"Patient/pat-1"}}`
	vital := `{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"subject":{"reference":"Patient/pat-1"}}`
	bundleOf := func(rs ...string) string {
		var entries []string
		for _, r := range rs {
			entries = append(entries, `{"resource":`+r+`}`)
		}
		return `{"resourceType":"Bundle","type":"searchset","entry":[` + strings.Join(entries, ",") + `]}`
	}
	tests := []struct {
		name, response string
		want           int
	}{
		{name: "only matching results", response: bundleOf(lab, lab), want: 200},
		{name: "an empty result", response: bundleOf(), want: 200},
		{name: "a result outside the constraint", response: bundleOf(lab, vital), want: 403},
		{name: "an OperationOutcome alongside", response: bundleOf(lab, `{"resourceType":"OperationOutcome"}`), want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, a, labOnly, httptest.NewRequest("GET", "/fhir/Observation", nil), func(w http.ResponseWriter, r *http.Request) {
				if got := r.URL.Query().Get("category"); !strings.HasSuffix(got, "|laboratory") {
					t.Errorf("search not narrowed by the constraint: %q", got)
				}
				_, _ = io.WriteString(w, tt.response)
			})
			assert.Equal(t, tt.want, s.code)
			if tt.want == 403 {
				assert.Equal(t, "authz.scope-constraint", s.event.Rejection)
			}
		})
	}
	unchecked := &authn.Principal{Subject: "s", Patient: "pat-1", Scopes: []string{"patient/Observation.rs?date=ge2020"}}
	s := serve(t, a, unchecked, httptest.NewRequest("GET", "/fhir/Observation", nil), nil)
	assert.Equal(t, 403, s.code, "a constraint the result check cannot evaluate is refused")
}

func TestConditionalCreateRefusedForUsersAndPatients(t *testing.T) {
	a := newAuthorizer(t, nil)
	body := `{"resourceType":"Observation","subject":{"reference":"Patient/pat-1"}}`
	res := run(t, a, patientApp, "POST", "/fhir/Observation", body, map[string]string{"If-None-Exist": "identifier=lab|123"})
	assert.Equal(t, 403, res.code)
	res = run(t, a, labService, "POST", "/fhir/Observation", body, map[string]string{"If-None-Exist": "identifier=lab|123"})
	assert.Equal(t, 200, res.code, "a system service may create conditionally")
}

func TestBodyErrorPointerNeverEchoesTheBody(t *testing.T) {
	a := newAuthorizer(t, nil)
	tests := []struct {
		name, body, pointer string
	}{
		{name: "a duplicate FHIR element", body: `{"resourceType":"Observation","status":"final","status":"x","subject":{"reference":"Patient/pat-1"}}`, pointer: "/status"},
		{name: "a duplicate inside an array", body: `{"resourceType":"Observation","code":{"coding":[{"code":"a","code":"b"}]},"subject":{"reference":"Patient/pat-1"}}`, pointer: "/code/coding/0/code"},
		{name: "a duplicate under a member that is not a FHIR element", body: `{"resourceType":"Observation","SSN-123-45-6789":{"x":1,"x":2},"subject":{"reference":"Patient/pat-1"}}`, pointer: ""},
		{name: "a duplicate member that is not a FHIR element", body: `{"resourceType":"Observation","MRN-555":1,"MRN-555":2}`, pointer: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, a, patientApp, "POST", "/fhir/Observation", tt.body, nil)
			require.Equal(t, 400, res.code)
			assert.Contains(t, res.body, `"pointer":"`+tt.pointer+`"`)
			assert.NotContains(t, res.body, "SSN-123")
			assert.NotContains(t, res.body, "MRN-555")
		})
	}
}

func TestReviewFollowUps(t *testing.T) {
	store := consent.NewMemoryStore(nil)
	require.NoError(t, store.Put(context.Background(), consent.Rule{ID: "no-research", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny}))
	a := newAuthorizer(t, func(c *authz.Config) { c.Consent = store })

	// A resource read by id, its patient unknown (no Compartment), cannot be checked
	// against consent: refused.
	research := &authn.Principal{Subject: "research-svc", ClientID: "research", Scopes: []string{"system/Observation.rs"}}
	res := run(t, a, research, "GET", "/fhir/Observation/obs-of-pat-3", "", map[string]string{"X-Purpose-Of-Use": "HRESCH"})
	assert.Equal(t, 403, res.code)

	// A bundle reaching two patients records both in the audit event.
	lab := newAuthorizer(t, nil)
	obs := func(p string) string {
		return `{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/` + p + `"}},"request":{"method":"POST","url":"Observation"}}`
	}
	res = run(t, lab, labService, "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[`+obs("pat-1")+`,`+obs("pat-3")+`]}`, nil)
	require.Equal(t, 200, res.code)
	assert.ElementsMatch(t, []audit.Entity{{Kind: audit.EntityPatient, ID: "pat-1"}, {Kind: audit.EntityPatient, ID: "pat-3"}}, res.event.Entities)

	// A bundle with a duplicate key is answered like a single resource: 400 with a pointer.
	res = run(t, lab, labService, "POST", "/fhir", `{"resourceType":"Bundle","type":"batch","type":"transaction","entry":[]}`, nil)
	assert.Equal(t, 400, res.code)
	assert.Contains(t, res.body, `"pointer":"/type"`)
}

func TestBindingStatus(t *testing.T) {
	var handled []error
	custom := func(w http.ResponseWriter, _ *http.Request, err error) {
		handled = append(handled, err)
		w.WriteHeader(http.StatusTeapot)
	}
	tests := []struct {
		name    string
		cfg     func(*authz.Config)
		target  string
		want    int
		wantErr error // what a custom ErrorHandler receives; nil when none is set
	}{
		{"own patient, default", nil, "/fhir/Patient/pat-1", 200, nil},
		{"other patient, default", nil, "/fhir/Patient/pat-2", 404, nil},
		{"other patient's response, default", nil, "/fhir/Observation/obs-other", 404, nil},
		{"own patient, 403", func(c *authz.Config) { c.BindingStatus = 403 }, "/fhir/Patient/pat-1", 200, nil},
		{"other patient, 403", func(c *authz.Config) { c.BindingStatus = 403 }, "/fhir/Patient/pat-2", 403, nil},
		{"other patient's response, 403", func(c *authz.Config) { c.BindingStatus = 403 }, "/fhir/Observation/obs-other", 403, nil},
		{"own patient's response, custom handler", func(c *authz.Config) { c.ErrorHandler = custom }, "/fhir/Observation/obs-own", 200, nil},
		{"other patient's response, custom handler", func(c *authz.Config) { c.ErrorHandler = custom }, "/fhir/Observation/obs-other", http.StatusTeapot, authz.ErrPatientBinding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			handled = nil
			res := run(t, newAuthorizer(t, tt.cfg), patientApp, "GET", tt.target, "", nil)
			if res.code != tt.want {
				t.Errorf("got status %d, want %d", res.code, tt.want)
			}
			if tt.wantErr != nil && (len(handled) != 1 || !errors.Is(handled[0], tt.wantErr)) {
				t.Errorf("got ErrorHandler calls %v, want one with %v", handled, tt.wantErr)
			}
		})
	}
}

// Parsed scopes are cached by scope list: principals built afresh for every request
// share an entry, and lists that join to the same text with spaces do not.
func TestScopeCacheKeysByWholeList(t *testing.T) {
	a := newAuthorizer(t, nil)
	split := &authn.Principal{Subject: "a", Patient: "pat-1", Scopes: []string{"patient/Patient.r", "launch"}}
	joined := &authn.Principal{Subject: "b", Patient: "pat-1", Scopes: []string{"patient/Patient.r launch"}}
	tests := []struct {
		name string
		p    *authn.Principal
		want int
	}{
		{"split list grants", split, 200},
		{"joined list grants nothing", joined, 403},
		{"a copy of the split list grants", &authn.Principal{Subject: "a", Patient: "pat-1", Scopes: slices.Clone(split.Scopes)}, 200},
		{"a copy of the joined list grants nothing", &authn.Principal{Subject: "b", Patient: "pat-1", Scopes: slices.Clone(joined.Scopes)}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, a, tt.p, "GET", "/fhir/Patient/pat-1", "", nil).code; got != tt.want {
				t.Errorf("got status %d, want %d", got, tt.want)
			}
		})
	}
}
