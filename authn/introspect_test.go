package authn_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
)

// fakeIntrospection answers RFC 7662 requests from a table of tokens to raw JSON answers.
type fakeIntrospection struct {
	srv     *httptest.Server
	answers map[string]string
	calls   atomic.Int64
}

func newFakeIntrospection(t *testing.T, answers map[string]string) *fakeIntrospection {
	f := &fakeIntrospection{answers: answers}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		id, secret, ok := r.BasicAuth()
		if !ok || id != "phikit%3Aapi" || secret != "s3cret%26" || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
			r.PostFormValue("token_type_hint") != "access_token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answer, ok := f.answers[r.PostFormValue("token")]
		if !ok {
			answer = `{"active":false}`
		}
		if answer == "500" {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, answer)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func newIntrospectingAuth(t *testing.T, f *fakeIntrospection, c *clock, mod func(*authn.IntrospectionConfig)) *authn.Authenticator {
	ic := &authn.IntrospectionConfig{
		Endpoint: f.srv.URL + "/introspect", ClientID: "phikit:api", ClientSecret: "s3cret&",
		Issuer: "https://idp.example/", Audiences: []string{audience},
	}
	if mod != nil {
		mod(ic)
	}
	a, err := authn.New(authn.Config{Introspection: ic, HTTPClient: f.srv.Client(), Now: c.Now})
	require.NoError(t, err)
	return a
}

func TestIntrospection(t *testing.T) {
	exp := t0.Add(time.Hour).Unix()
	active := func(extra string) string {
		return fmt.Sprintf(`{"active":true,"scope":"system/Observation.rs","client_id":"lab","sub":"lab","aud":[%q],"iss":"https://idp.example/","exp":%d,"token_type":"Bearer","token_use":"access_token"%s}`, audience, exp, extra)
	}
	answers := map[string]string{
		"ok":             active(""),
		"ok-patient":     active(`,"patient":"pat-1","roles":["nurse"]`),
		"inactive":       `{"active":false}`,
		"other-issuer":   strings.Replace(active(""), "https://idp.example/", "https://evil.example/", 1),
		"no-exp":         strings.Replace(active(""), fmt.Sprintf(`"exp":%d,`, exp), "", 1),
		"expired":        strings.Replace(active(""), fmt.Sprint(exp), fmt.Sprint(t0.Unix()), 1),
		"refresh":        strings.Replace(active(""), `"token_use":"access_token"`, `"token_use":"refresh_token"`, 1),
		"other-audience": strings.Replace(active(""), audience, "https://other.example", 1),
		"exp-string":     strings.Replace(active(""), fmt.Sprintf(`"exp":%d`, exp), fmt.Sprintf(`"exp":"%d"`, exp), 1),
		"dup-active":     `{"active":false,` + active("")[1:],
		"no-active":      `{"scope":"x"}`,
		"not-json":       `<html>`,
		"server-error":   "500",
		"huge":           `{"active":false,"pad":"` + strings.Repeat("x", 70<<10) + `"}`,
	}
	f := newFakeIntrospection(t, answers)
	c := &clock{now: t0}
	a := newIntrospectingAuth(t, f, c, nil)
	tests := []struct {
		token   string
		wantErr error
	}{
		{"ok", nil},
		{"ok-patient", nil},
		{"inactive", authn.ErrTokenInactive},
		{"unknown-to-the-issuer", authn.ErrTokenInactive},
		{"other-issuer", authn.ErrUnknownIssuer},
		{"no-exp", authn.ErrMissingClaim},
		{"expired", authn.ErrTokenExpired},
		{"refresh", authn.ErrWrongType},
		{"other-audience", authn.ErrAudience},
		{"exp-string", authn.ErrIntrospectionUnavailable},
		{"dup-active", authn.ErrIntrospectionUnavailable},
		{"no-active", authn.ErrIntrospectionUnavailable},
		{"not-json", authn.ErrIntrospectionUnavailable},
		{"server-error", authn.ErrIntrospectionUnavailable},
		{"huge", authn.ErrIntrospectionUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			p, err := authenticate(a, tt.token)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, authn.MethodIntrospection, p.Method)
			assert.Equal(t, "lab", p.Subject)
			assert.Equal(t, "https://idp.example/", p.Issuer)
			assert.Equal(t, []string{"system/Observation.rs"}, p.Scopes)
			assert.Equal(t, time.Unix(exp, 0).UTC(), p.ExpiresAt)
		})
	}
	p, err := authenticate(a, "ok-patient")
	require.NoError(t, err)
	assert.Equal(t, "pat-1", p.Patient)
	assert.Equal(t, []string{"nurse"}, p.Roles)

	t.Run("unavailable answers 503", func(t *testing.T) {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer server-error")
		a.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	})
}

func TestIntrospectionCache(t *testing.T) {
	answers := map[string]string{
		"ok": fmt.Sprintf(`{"active":true,"sub":"lab","aud":%q,"exp":%d}`, audience, t0.Add(time.Hour).Unix()),
	}
	f := newFakeIntrospection(t, answers)
	c := &clock{now: t0}
	a := newIntrospectingAuth(t, f, c, nil)

	for range 10 {
		_, err := authenticate(a, "ok")
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, f.calls.Load(), "an active answer is reused")
	c.Add(31 * time.Second)
	_, err := authenticate(a, "ok")
	require.NoError(t, err)
	assert.EqualValues(t, 2, f.calls.Load(), "but not past MaxCacheTTL")

	for range 10 {
		_, err := authenticate(a, "bogus")
		require.ErrorIs(t, err, authn.ErrTokenInactive)
	}
	assert.EqualValues(t, 3, f.calls.Load(), "an inactive answer is remembered")
	c.Add(11 * time.Second)
	_, err = authenticate(a, "bogus")
	require.ErrorIs(t, err, authn.ErrTokenInactive)
	assert.EqualValues(t, 4, f.calls.Load(), "for InactiveCacheTTL")

	// The issuer revokes the token: with MaxCacheTTL negative, the next request knows.
	every := newIntrospectingAuth(t, f, c, func(ic *authn.IntrospectionConfig) { ic.MaxCacheTTL = -1 })
	_, err = authenticate(every, "ok")
	require.NoError(t, err)
	answers["ok"] = `{"active":false}`
	_, err = authenticate(every, "ok")
	require.ErrorIs(t, err, authn.ErrTokenInactive)

	// Never past exp, whatever MaxCacheTTL says.
	answers["short"] = fmt.Sprintf(`{"active":true,"sub":"lab","aud":%q,"exp":%d}`, audience, c.Now().Add(5*time.Second).Unix())
	long := newIntrospectingAuth(t, f, c, func(ic *authn.IntrospectionConfig) { ic.MaxCacheTTL = time.Hour })
	_, err = authenticate(long, "short")
	require.NoError(t, err)
	c.Add(5 * time.Second)
	answers["short"] = `{"active":false}`
	_, err = authenticate(long, "short")
	require.ErrorIs(t, err, authn.ErrTokenInactive)
}

func TestIntrospectionConfigRefused(t *testing.T) {
	for _, ic := range []authn.IntrospectionConfig{
		{Endpoint: "http://idp.example/introspect", Issuer: "https://idp.example/", Audiences: []string{audience}},
		{Endpoint: "https://idp.example/introspect", Audiences: []string{audience}},
		{Endpoint: "https://idp.example/introspect", Issuer: "https://idp.example/"},
		{Endpoint: "https://idp.example/introspect", Issuer: "https://idp.example/", Audiences: []string{audience}, InactiveCacheTTL: -1},
	} {
		_, err := authn.New(authn.Config{Introspection: &ic})
		assert.Error(t, err, "%+v", ic)
	}
}

// Both kinds of token through one authenticator: JWTs verified locally, the rest
// introspected.
func TestJWTAndOpaqueTogether(t *testing.T) {
	es := newES256(t, "es-1")
	fi := newFakeIssuer(t, es)
	f := newFakeIntrospection(t, map[string]string{
		"opaque": fmt.Sprintf(`{"active":true,"sub":"lab","aud":%q,"exp":%d}`, audience, t0.Add(time.Hour).Unix()),
	})
	c := &clock{now: t0}
	client := f.srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(fi.srv.Certificate())
	a, err := authn.New(authn.Config{
		Issuers: []authn.IssuerConfig{{Issuer: fi.issuer(), Audiences: []string{audience}}},
		Introspection: &authn.IntrospectionConfig{Endpoint: f.srv.URL, ClientID: "phikit:api", ClientSecret: "s3cret&",
			Issuer: "https://idp.example/", Audiences: []string{audience}},
		HTTPClient: client, Now: c.Now,
	})
	require.NoError(t, err)
	p, err := authenticate(a, sign(t, es, claimsAt(fi.issuer(), t0)))
	require.NoError(t, err)
	assert.Equal(t, authn.MethodJWT, p.Method)
	p, err = authenticate(a, "opaque")
	require.NoError(t, err)
	assert.Equal(t, authn.MethodIntrospection, p.Method)
}
