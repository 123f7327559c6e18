package authn_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
)

func TestPrincipalFromClaims(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	iss := f.issuer()
	tests := []struct {
		name   string
		mod    func(m map[string]any)
		rolesC string
		tenant string // the issuer's TenantClaim
		check  func(t *testing.T, p *authn.Principal)
	}{
		{name: "scope string", check: func(t *testing.T, p *authn.Principal) {
			assert.Equal(t, []string{"patient/Observation.rs", "patient/Patient.r"}, p.Scopes)
			assert.True(t, p.HasScope("patient/Patient.r"))
			assert.False(t, p.HasScope("patient/Patient"))
		}},
		{name: "scp array", mod: func(m map[string]any) { delete(m, "scope"); m["scp"] = []string{"a", "b"} },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, []string{"a", "b"}, p.Scopes) }},
		{name: "scp string", mod: func(m map[string]any) { delete(m, "scope"); m["scp"] = "a b" },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, []string{"a", "b"}, p.Scopes) }},
		{name: "identity and SMART context", mod: func(m map[string]any) {
			m["encounter"], m["fhirUser"] = "enc-9", "Practitioner/p-4"
			m["acr"], m["amr"], m["auth_time"] = "urn:mace:incommon:iap:silver", []string{"pwd", "otp"}, t0.Add(-5*time.Minute).Unix()
			m["roles"] = []string{"physician"}
		}, check: func(t *testing.T, p *authn.Principal) {
			assert.Equal(t, "canary-subject-7", p.Subject)
			assert.Equal(t, iss, p.Issuer)
			assert.Equal(t, "smart-app", p.ClientID)
			assert.Equal(t, []string{audience}, p.Audience)
			assert.Equal(t, "pat-1", p.Patient)
			assert.Equal(t, "enc-9", p.Encounter)
			assert.Equal(t, "Practitioner/p-4", p.FHIRUser)
			assert.Equal(t, "urn:mace:incommon:iap:silver", p.ACR)
			assert.Equal(t, []string{"pwd", "otp"}, p.AMR)
			assert.Equal(t, t0.Add(-5*time.Minute), p.AuthTime)
			assert.Equal(t, []string{"physician"}, p.Roles)
			assert.Equal(t, "jti-1", p.TokenID)
			assert.Equal(t, t0.Add(time.Hour), p.ExpiresAt)
			assert.Equal(t, authn.MethodJWT, p.Method)
		}},
		{name: "purpose of use as an array", mod: func(m map[string]any) { m["purpose_of_use"] = []string{"TREAT", "ETREAT"} },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, []string{"TREAT", "ETREAT"}, p.PurposeOfUse) }},
		{name: "purpose of use as a string", mod: func(m map[string]any) { m["purpose_of_use"] = "HPAYMT" },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, []string{"HPAYMT"}, p.PurposeOfUse) }},
		{name: "azp when there is no client_id", mod: func(m map[string]any) { delete(m, "client_id"); m["azp"] = "web" },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, "web", p.ClientID) }},
		{name: "custom roles claim", rolesC: "groups", mod: func(m map[string]any) { m["groups"] = []string{"nurse"}; m["roles"] = []string{"ignored"} },
			check: func(t *testing.T, p *authn.Principal) { assert.Equal(t, []string{"nurse"}, p.Roles) }},
		{name: "tenant claim", tenant: "org_id", mod: func(m map[string]any) { m["org_id"] = "org-42"; m["roles"] = []string{"nurse"} },
			check: func(t *testing.T, p *authn.Principal) {
				assert.Equal(t, "org-42", p.Tenant)
				assert.Equal(t, []string{"nurse"}, p.Roles, "the standard roles claim is still read")
			}},
		{name: "tenant and custom roles in one pass", tenant: "org_id", rolesC: "groups", mod: func(m map[string]any) { m["org_id"] = "org-42"; m["groups"] = []string{"nurse"} },
			check: func(t *testing.T, p *authn.Principal) {
				assert.Equal(t, "org-42", p.Tenant)
				assert.Equal(t, []string{"nurse"}, p.Roles)
			}},
		{name: "tenant claim absent", tenant: "org_id",
			check: func(t *testing.T, p *authn.Principal) { assert.Empty(t, p.Tenant) }},
		{name: "no tenant claim configured", mod: func(m map[string]any) { m["tenant"] = "org-42" },
			check: func(t *testing.T, p *authn.Principal) {
				assert.Empty(t, p.Tenant, "an unconfigured claim is never read")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuth(t, f, c, func(ic *authn.IssuerConfig) { ic.RolesClaim, ic.TenantClaim = tt.rolesC, tt.tenant })
			m := claimsAt(iss, t0)
			if tt.mod != nil {
				tt.mod(m)
			}
			p, err := authenticate(a, sign(t, es, m))
			require.NoError(t, err)
			tt.check(t, p)
		})
	}

	t.Run("roles of the wrong type", func(t *testing.T) {
		a := newAuth(t, f, c, nil)
		m := claimsAt(iss, t0)
		m["roles"] = "admin"
		_, err := authenticate(a, sign(t, es, m))
		assert.ErrorIs(t, err, authn.ErrMalformedToken)
	})
	for _, bad := range []any{42, nil, []string{"org-1", "org-2"}, map[string]any{"id": "org-1"}} {
		t.Run("tenant of the wrong type", func(t *testing.T) {
			a := newAuth(t, f, c, func(ic *authn.IssuerConfig) { ic.TenantClaim = "org_id" })
			m := claimsAt(iss, t0)
			m["org_id"] = bad
			_, err := authenticate(a, sign(t, es, m))
			assert.ErrorIs(t, err, authn.ErrMalformedToken)
		})
	}
}

func TestVerifiedTokenCache(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	token := sign(t, es, claimsAt(f.issuer(), t0))

	cached := newAuth(t, f, c, nil)
	p1, err := authenticate(cached, token)
	require.NoError(t, err)
	p2, err := authenticate(cached, token)
	require.NoError(t, err)
	assert.Same(t, p1, p2, "the second sight comes from the cache")

	// The cache never serves a token past its exp.
	c.Add(time.Hour)
	_, err = authenticate(cached, token)
	assert.ErrorIs(t, err, authn.ErrTokenExpired)

	// With the cache off, every sight is verified anew.
	c.now = t0
	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(), Now: c.Now, CacheSize: -1,
	})
	require.NoError(t, err)
	p1, err = authenticate(a, token)
	require.NoError(t, err)
	p2, err = authenticate(a, token)
	require.NoError(t, err)
	assert.NotSame(t, p1, p2)

	// A tampered copy of a cached token is not a cache hit.
	_, err = authenticate(cached, token[:len(token)-2]+"AA")
	assert.Error(t, err)
}

func TestCacheIsBoundedAndConcurrent(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(), Now: c.Now, CacheSize: 64,
	})
	require.NoError(t, err)
	tokens := make([]string, 200)
	for i := range tokens {
		m := claimsAt(f.issuer(), t0)
		m["jti"] = strings.Repeat("x", i)
		tokens[i] = sign(t, es, m)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tokens {
				p, err := authenticate(a, tokens[(i+w*25)%len(tokens)])
				if assert.NoError(t, err) {
					assert.Equal(t, (i+w*25)%len(tokens), len(p.TokenID))
				}
			}
		}()
	}
	wg.Wait()
}

func TestHandlerAnnotatesTheAuditEvent(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	a := newAuth(t, f, c, nil)
	var events []audit.Event
	var mu sync.Mutex
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, *e)
		return nil
	})})
	require.NoError(t, err)
	var got *authn.Principal
	h := aud.Handler(a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = authn.FromContext(r.Context())
	})))

	m := claimsAt(f.issuer(), t0)
	m["roles"] = []string{"physician"}
	good := sign(t, es, m)
	m["exp"] = t0.Add(-time.Minute).Unix()
	expired := sign(t, es, m)
	for _, tok := range []string{good, expired} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	require.NotNil(t, got)
	assert.Equal(t, "canary-subject-7", got.Subject)
	require.Len(t, events, 2)
	assert.Equal(t, audit.Agent{Subject: "canary-subject-7", Issuer: f.issuer(), Client: "smart-app", Roles: []string{"physician"}, AuthMethod: "jwt", Address: "192.0.2.1"}, events[0].Agent)
	assert.Equal(t, "", events[0].Rejection)
	assert.Equal(t, "authn.expired", events[1].Rejection)
	assert.Equal(t, 401, events[1].Status)
	assert.Equal(t, "", events[1].Agent.Subject, "an unverified subject is not recorded")
	line := string(events[1].AppendJSON(nil))
	assert.NotContains(t, line, expired[10:40], "the token reached the audit event")
}

func TestFromContextWithoutAuthenticator(t *testing.T) {
	_, ok := authn.FromContext(context.Background())
	assert.False(t, ok)
}
