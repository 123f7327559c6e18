package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
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
	"github.com/phikit/phikit/authn/dpop"
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
		// Sender-constrained tokens (RFC 8705 §3.2, RFC 9449 §6.2): the binding is enforced
		// as for a JWT, and a cnf naming nothing phikit can check refuses the token.
		"cert-bound":     active(`,"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}`),
		"dpop-bound":     strings.Replace(active(`,"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`), `"Bearer"`, `"DPoP"`, 1),
		"cnf-unknown":    active(`,"cnf":{"jwk":{}}`),
		"dpop-type-only": strings.Replace(active(""), `"Bearer"`, `"DPoP"`, 1),
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
		{"cert-bound", authn.ErrProofOfPossession},
		{"dpop-bound", authn.ErrProofOfPossession},
		{"cnf-unknown", authn.ErrUnsupportedToken},
		{"dpop-type-only", authn.ErrWrongType},
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

// TestIntrospectedBoundTokens: the cnf of an introspection answer binds the opaque token
// as a JWT's does: to the client certificate (RFC 8705 §3.2) or to a DPoP key (RFC 9449
// §6.2), checked on every request, cached answer or not.
func TestIntrospectedBoundTokens(t *testing.T) {
	c := &clock{now: t0}
	const base = "https://fhir.example.test"
	holder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jkt, err := dpop.Thumbprint(&holder.PublicKey)
	require.NoError(t, err)
	cert := &x509.Certificate{Raw: []byte("abc")} // x5t#S256 of the DER bytes "abc"
	other := &x509.Certificate{Raw: []byte("abd")}
	answer := func(tokenType, cnf string) string {
		return fmt.Sprintf(`{"active":true,"sub":"lab","aud":%q,"exp":%d,"token_type":%q,"cnf":%s}`,
			audience, t0.Add(time.Hour).Unix(), tokenType, cnf)
	}
	f := newFakeIntrospection(t, map[string]string{
		"cert-bound": answer("Bearer", `{"x5t#S256":"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"}`),
		"dpop-bound": answer("DPoP", fmt.Sprintf(`{"jkt":%q}`, jkt)),
	})
	v, err := dpop.New(dpop.Config{BaseURL: base, Replay: dpop.NewMemoryReplayStore(1000, c.Now), Now: c.Now})
	require.NoError(t, err)
	var presented *x509.Certificate
	a, err := authn.New(authn.Config{
		Introspection: &authn.IntrospectionConfig{Endpoint: f.srv.URL, ClientID: "phikit:api", ClientSecret: "s3cret&",
			Issuer: "https://idp.example/", Audiences: []string{audience}},
		HTTPClient: f.srv.Client(), Now: c.Now, DPoP: v,
		ClientCertificate: func(*http.Request) (*x509.Certificate, error) { return presented, nil },
	})
	require.NoError(t, err)

	tests := []struct {
		name, scheme, token string
		cert                *x509.Certificate
		proofKey            *ecdsa.PrivateKey // nil: no DPoP header
		wantErr             error
	}{
		{name: "cert-bound with its certificate", scheme: "Bearer", token: "cert-bound", cert: cert},
		{name: "cert-bound without a certificate", scheme: "Bearer", token: "cert-bound", wantErr: authn.ErrProofOfPossession},
		{name: "cert-bound with another certificate", scheme: "Bearer", token: "cert-bound", cert: other, wantErr: authn.ErrProofOfPossession},
		{name: "dpop-bound with the holder's proof", scheme: "DPoP", token: "dpop-bound", proofKey: holder},
		{name: "dpop-bound with a thief's proof", scheme: "DPoP", token: "dpop-bound", proofKey: thief, wantErr: authn.ErrProofOfPossession},
		{name: "dpop-bound sent as Bearer", scheme: "Bearer", token: "dpop-bound", wantErr: authn.ErrProofOfPossession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			presented = tt.cert
			r := httptest.NewRequest(http.MethodGet, base+"/fhir/Patient/pat-1", nil)
			r.Header.Set("Authorization", tt.scheme+" "+tt.token)
			if tt.proofKey != nil {
				proof, err := dpop.NewProof(tt.proofKey, http.MethodGet, base+"/fhir/Patient/pat-1", tt.token, "", c.Now())
				require.NoError(t, err)
				r.Header.Set("DPoP", proof)
			}
			p, err := a.Authenticate(r)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, authn.MethodIntrospection, p.Method)
		})
	}
}
