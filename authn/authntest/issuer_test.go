package authntest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/authntest"
)

func TestIssuerTokensVerify(t *testing.T) {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	iss, err := authntest.NewIssuerAt(srv.URL+"/dev/", func() time.Time { return now })
	require.NoError(t, err)
	mux.Handle("GET /dev/jwks.json", iss.JWKSHandler())

	a, err := authn.New(authn.Config{
		Issuers: []authn.IssuerConfig{{Issuer: iss.URL(), JWKSURL: iss.URL() + "jwks.json", Audiences: []string{"api"},
			Algorithms: []string{"ES256"}, InsecureAllowHTTP: authn.IsLoopbackURL(iss.URL()), RequireAccessTokenType: true}},
		Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	tok, err := iss.Mint(map[string]any{"sub": "dr-7", "aud": "api", "scope": "user/*.rs"})
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	p, err := a.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, "dr-7", p.Subject)
	assert.Equal(t, []string{"user/*.rs"}, p.Scopes)
	assert.Equal(t, now.Add(time.Hour), p.ExpiresAt)

	// Another issuer's identical-looking token does not verify.
	other, err := authntest.NewIssuerAt(iss.URL(), func() time.Time { return now })
	require.NoError(t, err)
	forged, err := other.Mint(map[string]any{"sub": "dr-7", "aud": "api"})
	require.NoError(t, err)
	r.Header.Set("Authorization", "Bearer "+forged)
	_, err = a.Authenticate(r)
	assert.ErrorIs(t, err, authn.ErrUnknownKey)
}
