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

func authenticate(a *authn.Authenticator, token string) (*authn.Principal, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return a.Authenticate(r)
}

// waitFetches waits until the issuer has served n key-set fetches: a background refresh
// runs in its own goroutine. It never asserts on time.
func waitFetches(t *testing.T, f *fakeIssuer, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return f.fetches.Load() >= n }, 10*time.Second, time.Millisecond,
		"got %d fetches, want %d", f.fetches.Load(), n)
}

func TestKeySetLifecycle(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	f.cc = "public, max-age=600"
	c := &clock{now: t0}
	a := newAuth(t, f, c, func(ic *authn.IssuerConfig) { ic.MaxStale = 30 * time.Minute })
	token := func() string { return sign(t, es, claimsAt(f.issuer(), c.Now())) } // a new token each time: no cache hits

	// First sight fetches the key set once, however many tokens follow.
	for range 20 {
		_, err := authenticate(a, token())
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, f.fetches.Load())

	// Before three quarters of max-age: no refresh.
	c.Add(7 * time.Minute)
	_, err := authenticate(a, token())
	require.NoError(t, err)
	assert.EqualValues(t, 1, f.fetches.Load())

	// After: one background refresh, while requests go on with the current keys.
	c.Add(1 * time.Minute)
	_, err = authenticate(a, token())
	require.NoError(t, err)
	waitFetches(t, f, 2)

	// The issuer goes down. Past the refresh time, the last good keys are still served
	// (stale), and failing fetches are tried at most once a minute. (A refresh starts
	// only once the previous one has finished, so keep asking until it does.)
	f.set(func(f *fakeIssuer) { f.fail = true })
	c.Add(15 * time.Minute) // 23 minutes: past the refreshed set's 10 minutes
	var staleErr atomic.Value
	require.Eventually(t, func() bool {
		if _, err := authenticate(a, token()); err != nil {
			staleErr.Store(err)
		}
		return f.fetches.Load() >= 3
	}, 10*time.Second, time.Millisecond, "a refresh was tried")
	require.Nil(t, staleErr.Load(), "stale keys must still be served")
	for range 50 {
		_, err = authenticate(a, token())
		require.NoError(t, err, "stale keys must still be served")
	}
	assert.EqualValues(t, 3, f.fetches.Load(), "fetches while failing are rate limited")

	// Past MaxStale: fail closed.
	c.Add(30 * time.Minute)
	for range 50 {
		_, err = authenticate(a, token())
		require.ErrorIs(t, err, authn.ErrKeysUnavailable)
	}
	assert.LessOrEqual(t, f.fetches.Load(), int64(4), "a dead issuer is not hammered")

	// The issuer recovers: within a minute, requests succeed again.
	f.set(func(f *fakeIssuer) { f.fail = false })
	c.Add(time.Minute)
	_, err = authenticate(a, token())
	require.NoError(t, err)

	// The 503 a client sees while the keys are unavailable.
	f.set(func(f *fakeIssuer) { f.fail = true })
	c.Add(2 * time.Hour)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token())
	a.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
}

func TestUnknownKidFloodCostsTheIssuerNothing(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	a := newAuth(t, f, c, nil)
	_, err := authenticate(a, sign(t, es, claimsAt(f.issuer(), t0)))
	require.NoError(t, err)

	attacker := newES256(t, "")
	for i := range 1000 {
		attacker.kid = fmt.Sprintf("random-%d", i)
		_, err := authenticate(a, sign(t, attacker, claimsAt(f.issuer(), t0)))
		require.ErrorIs(t, err, authn.ErrUnknownKey)
	}
	assert.EqualValues(t, 1, f.fetches.Load(), "no refetch within the interval")

	// A minute later, one refetch for a new kid, and that kid is then remembered as bad.
	c.Add(time.Minute)
	for range 100 {
		attacker.kid = "random-again"
		_, err := authenticate(a, sign(t, attacker, claimsAt(f.issuer(), c.Now())))
		require.ErrorIs(t, err, authn.ErrUnknownKey)
	}
	assert.EqualValues(t, 2, f.fetches.Load())
	c.Add(time.Minute)
	_, err = authenticate(a, sign(t, attacker, claimsAt(f.issuer(), c.Now())))
	require.ErrorIs(t, err, authn.ErrUnknownKey)
	assert.EqualValues(t, 2, f.fetches.Load(), "a kid known to be bad does not refetch")
}

func TestKeyRotationPickedUp(t *testing.T) {
	old := newES256(t, "old")
	f := newFakeIssuer(t, old)
	c := &clock{now: t0}
	a := newAuth(t, f, c, nil)
	_, err := authenticate(a, sign(t, old, claimsAt(f.issuer(), t0)))
	require.NoError(t, err)

	rotated := newRS256(t, "new")
	f.set(func(f *fakeIssuer) { f.keys = append(f.keys, rotated) })
	c.Add(time.Minute)
	_, err = authenticate(a, sign(t, rotated, claimsAt(f.issuer(), c.Now())))
	require.NoError(t, err, "a new kid triggers a refetch")
	_, err = authenticate(a, sign(t, old, claimsAt(f.issuer(), c.Now())))
	require.NoError(t, err, "the old key stays valid while published")
}

func TestKeySetFetchRefusals(t *testing.T) {
	es := newES256(t, "es-1")
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{name: "redirect", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}},
		{name: "oversize", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"keys":[],"pad":"%s"}`, strings.Repeat("x", 300<<10))
		}},
		{name: "not JSON", handler: func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }},
		{name: "only a weak RSA key", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"keys":[{"kty":"RSA","kid":"es-1","n":"wZ2mY0J9ASgIX3b3oOfxvrMPW0SyDv1b5tLh7NEP7p1oGWU29GXtVjZzjzm2sfzNQ8LFXEBWxYmjWoy0hVsyVQ","e":"AQAB"}]}`)
		}},
		{name: "only a symmetric key", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"keys":[{"kty":"oct","kid":"es-1","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)
		}},
		{name: "an Ed25519 key of 3 bytes", handler: func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"es-1","x":"AQID"}]}`)
		}},
		{name: "an encryption key", handler: func(w http.ResponseWriter, r *http.Request) {
			m := es.jwk(t)
			m["use"] = "enc"
			fmt.Fprint(w, `{"keys":[`+mustJSON(t, m)+`]}`)
		}},
		{name: "a key whose alg contradicts its type", handler: func(w http.ResponseWriter, r *http.Request) {
			m := es.jwk(t)
			m["alg"] = "RS256"
			fmt.Fprint(w, `{"keys":[`+mustJSON(t, m)+`]}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(tt.handler)
			defer srv.Close()
			a, err := authn.New(authn.Config{
				Issuers:    []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{audience}, JWKSURL: srv.URL + "/jwks", Algorithms: []string{"ES256"}}},
				HTTPClient: srv.Client(),
				Now:        func() time.Time { return t0 },
			})
			require.NoError(t, err)
			_, err = authenticate(a, sign(t, es, claimsAt("https://idp.example/", t0)))
			require.ErrorIs(t, err, authn.ErrKeysUnavailable)
		})
	}
}

func TestDiscoveryMustNameTheIssuer(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	// Trust the issuer under another name than its discovery document gives.
	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{{Issuer: f.srv.URL, Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(),
		Now:        func() time.Time { return t0 },
	})
	require.NoError(t, err)
	_, err = authenticate(a, sign(t, es, claimsAt(f.srv.URL, t0)))
	require.ErrorIs(t, err, authn.ErrKeysUnavailable)
	assert.EqualValues(t, 0, f.fetches.Load())
}

func TestNewRefusesUnsafeConfig(t *testing.T) {
	ok := authn.IssuerConfig{Issuer: "https://idp.example/", Audiences: []string{audience}}
	tests := []struct {
		name string
		cfg  authn.Config
	}{
		{name: "no issuer", cfg: authn.Config{}},
		{name: "http issuer", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "http://idp.example/", Audiences: []string{audience}}}}},
		{name: "http JWKS", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", JWKSURL: "http://idp.example/jwks", Audiences: []string{audience}}}}},
		{name: "no audience", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/"}}}},
		{name: "empty audience", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{""}}}}},
		{name: "HMAC algorithm", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{audience}, Algorithms: []string{"HS256"}}}}},
		{name: "alg none", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{audience}, Algorithms: []string{"none"}}}}},
		{name: "empty algorithm list", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{audience}, Algorithms: []string{}}}}},
		{name: "leeway too large", cfg: authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "https://idp.example/", Audiences: []string{audience}, Leeway: time.Hour}}}},
		{name: "same issuer twice", cfg: authn.Config{Issuers: []authn.IssuerConfig{ok, ok}}},
		{name: "token cap too large", cfg: authn.Config{Issuers: []authn.IssuerConfig{ok}, MaxTokenBytes: 1 << 20}},
		{name: "realm with a quote", cfg: authn.Config{Issuers: []authn.IssuerConfig{ok}, Realm: `a"b`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := authn.New(tt.cfg)
			assert.Error(t, err)
		})
	}
	_, err := authn.New(authn.Config{Issuers: []authn.IssuerConfig{{Issuer: "http://127.0.0.1:4444/", Audiences: []string{audience}, InsecureAllowHTTP: true}}})
	assert.NoError(t, err, "http with InsecureAllowHTTP")
}
