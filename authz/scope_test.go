package authz_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz"
	"github.com/phikit/phikit/authz/consent"
)

func TestParseScope(t *testing.T) {
	all := authz.PermCreate | authz.PermRead | authz.PermUpdate | authz.PermDelete | authz.PermSearch
	tests := []struct {
		in    string
		ok    bool
		ctx   authz.Context
		typ   string
		perms authz.Perms
		query string
	}{
		{in: "patient/Observation.rs", ok: true, ctx: authz.ContextPatient, typ: "Observation", perms: authz.PermRead | authz.PermSearch},
		{in: "user/*.cruds", ok: true, ctx: authz.ContextUser, typ: "*", perms: all},
		{in: "system/Encounter.cud", ok: true, ctx: authz.ContextSystem, typ: "Encounter", perms: authz.PermCreate | authz.PermUpdate | authz.PermDelete},
		{in: "patient/Observation.c", ok: true, ctx: authz.ContextPatient, typ: "Observation", perms: authz.PermCreate},
		{in: "patient/Observation.read", ok: true, ctx: authz.ContextPatient, typ: "Observation", perms: authz.PermRead | authz.PermSearch},
		{in: "user/Patient.write", ok: true, ctx: authz.ContextUser, typ: "Patient", perms: authz.PermCreate | authz.PermUpdate | authz.PermDelete},
		{in: "system/*.*", ok: true, ctx: authz.ContextSystem, typ: "*", perms: all},
		{in: "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", ok: true,
			ctx: authz.ContextPatient, typ: "Observation", perms: authz.PermRead | authz.PermSearch, query: "category"},

		{in: "patient/Observation.sr"},        // out of order
		{in: "patient/Observation.rrs"},       // repeated
		{in: "patient/Observation.rsx"},       // unknown letter
		{in: "patient/Observation."},          // no permissions
		{in: "patient/Observation"},           // no permission part
		{in: "patient/observation.rs"},        // type in the wrong case
		{in: "patient/OBSERVATION.rs"},        // valid-looking, but a type name? accepted as a name; see below
		{in: "patient/Obs3rvation.rs"},        // digits
		{in: "practitioner/Observation.rs"},   // unknown context
		{in: "*/Observation.rs"},              // wildcard context
		{in: "Patient/Observation.rs"},        // context case
		{in: "patient/*.rs?"},                 // empty query
		{in: "patient/*.rs?category"},         // parameter without a value
		{in: "patient/*.rs?a=1&a=2"},          // repeated parameter
		{in: "patient/*.rs?%zz=1"},            // bad escape
		{in: "openid"},                        // not a resource scope
		{in: "launch/patient"},                // not a resource scope
		{in: "patient/Observation.rs " + "x"}, // trailing junk
		{in: "patient/" + strings.Repeat("A", 600) + ".r"},
		{in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			sc, err := authz.ParseScope(tt.in)
			if tt.in == "patient/OBSERVATION.rs" { // upper-case letters only: still a type name by the grammar
				require.NoError(t, err)
				return
			}
			if !tt.ok {
				require.ErrorIs(t, err, authz.ErrScope)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.ctx, sc.Context)
			assert.Equal(t, tt.typ, sc.Type)
			assert.Equal(t, tt.perms, sc.Perms, "perms %s", sc.Perms)
			if tt.query != "" {
				assert.Contains(t, sc.Query, tt.query)
			} else {
				assert.Nil(t, sc.Query)
			}
		})
	}
}

func TestScopesMatch(t *testing.T) {
	s, bad := authz.ParseScopes([]string{"openid", "fhirUser", "launch/patient", "patient/Observation.rs",
		"patient/Patient.r", "patient/Observation.c", "patient/Condition.sr", "user/*.rs?category=lab", "user/Observation.rs"})
	assert.Equal(t, []string{"patient/Condition.sr"}, bad)
	tests := []struct {
		ctx  authz.Context
		perm authz.Perms
		typ  string
		want string
	}{
		{authz.ContextPatient, authz.PermRead, "Observation", "patient/Observation.rs"},
		{authz.ContextPatient, authz.PermSearch, "Observation", "patient/Observation.rs"},
		{authz.ContextPatient, authz.PermCreate, "Observation", "patient/Observation.c"},
		{authz.ContextPatient, authz.PermUpdate, "Observation", ""},               // write does not imply read, nor read write
		{authz.ContextPatient, authz.PermSearch, "Patient", ""},                   // .r is not .s
		{authz.ContextPatient, authz.PermRead, "Condition", ""},                   // the malformed scope grants nothing
		{authz.ContextUser, authz.PermRead, "Observation", "user/Observation.rs"}, // unconstrained preferred
		{authz.ContextUser, authz.PermRead, "Encounter", "user/*.rs?category=lab"},
		{authz.ContextSystem, authz.PermRead, "Observation", ""},
	}
	for _, tt := range tests {
		sc := s.Match(tt.ctx, tt.perm, tt.typ)
		got := ""
		if sc != nil {
			got = sc.Raw
		}
		assert.Equal(t, tt.want, got, "%v %v %s", tt.ctx, tt.perm, tt.typ)
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"patient/Observation.rs", "user/*.cruds", "system/*.*", "patient/*.rs?a=b", "patient/Observation.sr", "x/y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := authz.ParseScope(s)
		if err != nil {
			return
		}
		if sc.Perms == 0 || sc.Raw != s || sc.Type == "" {
			t.Fatalf("accepted %q as %+v", s, sc)
		}
		// Accepted perms always print back as an in-order subsequence of "cruds".
		if p := sc.Perms.String(); !strings.Contains("cruds", p) && !isSubsequence(p, "cruds") {
			t.Fatalf("%q: perms %q", s, p)
		}
	})
}

func isSubsequence(a, b string) bool {
	i := 0
	for j := 0; j < len(b) && i < len(a); j++ {
		if a[i] == b[j] {
			i++
		}
	}
	return i == len(a)
}

// BenchmarkScopesMatch: a token with 20 scopes, parsed once, checked per request.
func BenchmarkScopesMatch(b *testing.B) {
	var raw []string
	for _, typ := range []string{"Patient", "Observation", "Condition", "Encounter", "MedicationRequest", "Procedure", "Immunization",
		"AllergyIntolerance", "DiagnosticReport", "DocumentReference"} {
		raw = append(raw, "patient/"+typ+".rs", "user/"+typ+".cud")
	}
	s, _ := authz.ParseScopes(raw)
	b.Run("hit-last", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.Match(authz.ContextUser, authz.PermUpdate, "DocumentReference") == nil {
				b.Fatal("no match")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.Match(authz.ContextSystem, authz.PermRead, "Observation") != nil {
				b.Fatal("match")
			}
		}
	})
	b.Run("parse-20", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			authz.ParseScopes(raw)
		}
	})
}

// BenchmarkDecide is a whole decision for a clinician reading a patient on the care team,
// with consent from memory and a role policy, beside the scope match alone.
func BenchmarkDecide(b *testing.B) {
	store := consent.NewMemoryStore(nil)
	_ = store.Put(context.Background(), consent.Rule{ID: "c1", Patient: "pat-1", Purpose: "HRESCH", Decision: consent.Deny})
	roles, _ := authz.RolePolicy(map[string][]string{"physician": {"*.cruds"}})
	a, err := authz.New(authz.Config{CareTeam: careTeam{"Practitioner/prac-1": {"pat-1"}}, Consent: store,
		Policies: []authz.Policy{roles}, DefaultPurpose: "TREAT"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil)
	shared := r.WithContext(authn.NewContext(r.Context(), clinician))
	b.Run("shared-principal", func(b *testing.B) { // a JWT served from authn's token cache
		b.ReportAllocs()
		for b.Loop() {
			if d, err := a.Decide(shared); err != nil || !d.Allow {
				b.Fatal(err)
			}
		}
	})
	// mTLS and API-key authenticators build a new Principal for every request.
	b.Run("fresh-principal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := *clinician
			if d, err := a.Decide(r.WithContext(authn.NewContext(r.Context(), &p))); err != nil || !d.Allow {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-scope-match", func(b *testing.B) {
		s, _ := authz.ParseScopes(clinician.Scopes)
		b.ReportAllocs()
		for b.Loop() {
			if s.Match(authz.ContextUser, authz.PermRead, "Patient") == nil {
				b.Fatal("no match")
			}
		}
	})
}
