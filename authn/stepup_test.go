package authn_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
)

func TestRequireStepUp(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	a := newAuth(t, f, c, nil)
	mfaRecent, err := a.RequireStepUp(authn.StepUp{AMR: []string{"mfa"}, MaxAge: 15 * time.Minute})
	require.NoError(t, err)
	silver, err := a.RequireStepUp(authn.StepUp{ACRValues: []string{"urn:example:silver", "urn:example:gold"}})
	require.NoError(t, err)

	tests := []struct {
		name      string
		mw        func(http.Handler) http.Handler
		claims    map[string]any
		want      int
		challenge string
	}{
		{name: "MFA 5 minutes ago", mw: mfaRecent, claims: map[string]any{"amr": []string{"pwd", "mfa"}, "auth_time": t0.Add(-5 * time.Minute).Unix()}, want: 200},
		{name: "MFA exactly 15 minutes ago", mw: mfaRecent, claims: map[string]any{"amr": []string{"mfa"}, "auth_time": t0.Add(-15 * time.Minute).Unix()}, want: 200},
		{name: "MFA 16 minutes ago", mw: mfaRecent, claims: map[string]any{"amr": []string{"mfa"}, "auth_time": t0.Add(-16 * time.Minute).Unix()}, want: 401,
			challenge: `Bearer error="insufficient_user_authentication", max_age="900"`},
		{name: "password only", mw: mfaRecent, claims: map[string]any{"amr": []string{"pwd"}, "auth_time": t0.Unix()}, want: 401,
			challenge: `Bearer error="insufficient_user_authentication", max_age="900"`},
		{name: "no auth_time", mw: mfaRecent, claims: map[string]any{"amr": []string{"mfa"}}, want: 401,
			challenge: `Bearer error="insufficient_user_authentication", max_age="900"`},
		{name: "acceptable acr", mw: silver, claims: map[string]any{"acr": "urn:example:gold"}, want: 200},
		{name: "weaker acr", mw: silver, claims: map[string]any{"acr": "urn:example:bronze"}, want: 401,
			challenge: `Bearer error="insufficient_user_authentication", acr_values="urn:example:silver urn:example:gold"`},
		{name: "no acr", mw: silver, claims: map[string]any{}, want: 401,
			challenge: `Bearer error="insufficient_user_authentication", acr_values="urn:example:silver urn:example:gold"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := claimsAt(f.issuer(), t0)
			for k, v := range tt.claims {
				m[k] = v
			}
			r := httptest.NewRequest(http.MethodPut, "/fhir/Patient/pat-1", nil)
			r.Header.Set("Authorization", "Bearer "+sign(t, es, m))
			rec := httptest.NewRecorder()
			a.Handler(tt.mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))).ServeHTTP(rec, r)
			assert.Equal(t, tt.want, rec.Code)
			assert.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
		})
	}

	t.Run("outside the authenticator", func(t *testing.T) {
		rec := httptest.NewRecorder()
		mfaRecent(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, 401, rec.Code)
		assert.Equal(t, "Bearer", rec.Header().Get("WWW-Authenticate"))
	})
}

func TestRequireStepUpValidates(t *testing.T) {
	a := newAuth(t, newFakeIssuer(t), &clock{now: t0}, nil)
	for _, req := range []authn.StepUp{{}, {MaxAge: -time.Second}, {ACRValues: []string{`a"b`}}, {AMR: []string{""}}, {AMR: []string{"two words"}}} {
		_, err := a.RequireStepUp(req)
		assert.Error(t, err, "%+v", req)
	}
}

func TestStepUpErrorIs(t *testing.T) {
	var err error = &authn.StepUpError{Required: authn.StepUp{AMR: []string{"mfa"}}}
	assert.True(t, errors.Is(err, authn.ErrInsufficientAuthentication))
	var ae *authn.Error
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, "authn.step-up", ae.Reason())
}
