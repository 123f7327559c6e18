package authn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/redisrevocation"
	"github.com/phikit/phikit/internal/testserver"
)

type failingRevocations struct{}

func (failingRevocations) Revoke(context.Context, string, string, time.Time) error {
	return errors.New("down")
}
func (failingRevocations) Revoked(context.Context, string, string) (bool, error) {
	return false, errors.New("down")
}

func TestRevocationWiring(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	newA := func(rev authn.Revocations) *authn.Authenticator {
		a, err := authn.New(authn.Config{
			Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}, Leeway: time.Minute}},
			HTTPClient: f.srv.Client(), Now: c.Now, Revocations: rev,
		})
		require.NoError(t, err)
		return a
	}
	list := authn.NewMemoryRevocations(100, c.Now)
	a := newA(list)
	tok := sign(t, es, claimsAt(f.issuer(), t0))
	p, err := authenticate(a, tok)
	require.NoError(t, err)

	require.NoError(t, a.Revoke(context.Background(), p))
	_, err = authenticate(a, tok) // a cache hit, still refused
	require.ErrorIs(t, err, authn.ErrRevoked)
	other := sign(t, es, func() map[string]any { m := claimsAt(f.issuer(), t0); m["jti"] = "jti-2"; return m }())
	_, err = authenticate(a, other)
	require.NoError(t, err, "only the revoked jti is refused")

	// Within the leeway past exp the revocation still holds.
	c.Add(time.Hour + 30*time.Second)
	revoked, err := list.Revoked(context.Background(), p.Issuer, p.TokenID)
	require.NoError(t, err)
	assert.True(t, revoked)

	// No jti: cannot be revoked, so refused.
	c.now = t0
	noJTI := claimsAt(f.issuer(), t0)
	delete(noJTI, "jti")
	_, err = authenticate(a, sign(t, es, noJTI))
	require.ErrorIs(t, err, authn.ErrMissingClaim)

	// The list is down: fail closed with 503.
	down := newA(failingRevocations{})
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	down.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)

	assert.Error(t, newA(nil).Revoke(context.Background(), p), "Revoke without a list")
}

// TestRevocationAcrossReplicas: two authenticators (two replicas) share a Redis
// deny-list; a token revoked through one is refused by the other on its next request,
// although the other had it cached as verified.
func TestRevocationAcrossReplicas(t *testing.T) {
	srv := testserver.Redis(t)
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	replica := func() *authn.Authenticator {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr})
		t.Cleanup(func() { _ = client.Close() })
		store, err := redisrevocation.New(redisrevocation.Config{Client: client})
		require.NoError(t, err)
		a, err := authn.New(authn.Config{
			Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
			HTTPClient: f.srv.Client(), Revocations: store,
		})
		require.NoError(t, err)
		return a
	}
	one, two := replica(), replica()
	tok := sign(t, es, claimsAt(f.issuer(), time.Now()))
	p, err := authenticate(one, tok)
	require.NoError(t, err)
	_, err = authenticate(two, tok)
	require.NoError(t, err)

	require.NoError(t, one.Revoke(context.Background(), p))
	_, err = authenticate(two, tok)
	assert.ErrorIs(t, err, authn.ErrRevoked)
	_, err = authenticate(one, tok)
	assert.ErrorIs(t, err, authn.ErrRevoked)
}
