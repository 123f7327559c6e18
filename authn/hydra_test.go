package authn_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/testserver"
)

// TestHydraEndToEnd verifies real access tokens from ORY Hydra through the middleware:
// RS256 as Hydra starts, ES256 after a key is added to Hydra's signing set — picked up
// without restarting anything — and Hydra's own tokens tampered with or aimed elsewhere.
func TestHydraEndToEnd(t *testing.T) {
	h := testserver.Hydra(t)
	const aud = "https://fhir.example.test"
	id, secret := h.CreateClient(t, testserver.HydraClient{
		Scopes:   []string{"patient/*.rs", "system/Observation.rs"},
		Audience: []string{aud, "https://other.example.test"},
	})

	require.True(t, authn.IsLoopbackURL(h.Issuer))
	a, err := authn.New(authn.Config{
		Issuers: []authn.IssuerConfig{{
			Issuer:             h.Issuer, // discovery: Hydra's openid-configuration names it
			Audiences:          []string{aud},
			Algorithms:         []string{"RS256", "ES256"},
			InsecureAllowHTTP:  true, // loopback only
			UnknownKeyInterval: time.Nanosecond,
		}},
	})
	require.NoError(t, err)
	serve := func(token string) (*httptest.ResponseRecorder, *authn.Principal) {
		var got *authn.Principal
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/fhir/Observation?patient=pat-1", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = authn.FromContext(r.Context())
		})).ServeHTTP(rec, r)
		return rec, got
	}

	rs := h.Token(t, id, secret, []string{"patient/*.rs"}, []string{aud})
	assert.Equal(t, "RS256", tokenHeader(t, rs)["alg"])
	rec, p := serve(rs)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, id, p.Subject)
	assert.Equal(t, id, p.ClientID)
	assert.Equal(t, h.Issuer, p.Issuer)
	assert.Equal(t, []string{"patient/*.rs"}, p.Scopes)

	// A token for another audience of the same client is refused.
	rec, _ = serve(h.Token(t, id, secret, []string{"patient/*.rs"}, []string{"https://other.example.test"}))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`)

	// A tampered token is refused.
	parts := strings.Split(rs, ".")
	payload, err := b64.DecodeString(parts[1])
	require.NoError(t, err)
	forged := parts[0] + "." + b64.EncodeToString([]byte(strings.Replace(string(payload), `"patient/*.rs"`, `"system/*.cruds"`, 1))) + "." + parts[2]
	rec, _ = serve(forged)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)

	// Rotation: Hydra now signs with a new ES256 key; its first token triggers one refetch.
	h.CreateKey(t, "ES256", "es-rotated")
	es := h.Token(t, id, secret, []string{"system/Observation.rs"}, []string{aud})
	assert.Equal(t, "ES256", tokenHeader(t, es)["alg"])
	assert.Equal(t, "es-rotated", tokenHeader(t, es)["kid"])
	rec, p = serve(es)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.Equal(t, []string{"system/Observation.rs"}, p.Scopes)

	// The RS256 token issued before the rotation is still valid and cached.
	rec, _ = serve(rs)
	assert.Equal(t, http.StatusOK, rec.Code)
}

func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := b64.DecodeString(strings.SplitN(token, ".", 2)[0])
	require.NoError(t, err)
	var h map[string]any
	require.NoError(t, json.Unmarshal(raw, &h))
	return h
}

// TestHydraIntrospection accepts Hydra's opaque tokens through its introspection
// endpoint, and refuses one as soon as Hydra has revoked it.
func TestHydraIntrospection(t *testing.T) {
	h := testserver.Hydra(t)
	const aud = "https://fhir.example.test"
	id, secret := h.CreateClient(t, testserver.HydraClient{Scopes: []string{"system/Observation.rs"}, Audience: []string{aud}, Opaque: true})
	a, err := authn.New(authn.Config{Introspection: &authn.IntrospectionConfig{
		Endpoint:          h.AdminURL + "/admin/oauth2/introspect", // Hydra's admin API needs no client credentials
		Issuer:            h.Issuer,
		Audiences:         []string{aud},
		MaxCacheTTL:       -1, // ask every time, so the revocation is seen at once
		InsecureAllowHTTP: true,
	}})
	require.NoError(t, err)

	token := h.Token(t, id, secret, []string{"system/Observation.rs"}, []string{aud})
	require.NotEqual(t, 2, strings.Count(token, "."), "an opaque token, not a JWT")
	r := httptest.NewRequest(http.MethodGet, "/fhir/Observation", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	p, err := a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, authn.MethodIntrospection, p.Method)
	assert.Equal(t, id, p.ClientID)
	assert.Equal(t, []string{"system/Observation.rs"}, p.Scopes)

	h.Revoke(t, id, secret, token)
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, authn.ErrTokenInactive)

	r.Header.Set("Authorization", "Bearer ory_at_forged.not-a-token")
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, authn.ErrTokenInactive)
}
