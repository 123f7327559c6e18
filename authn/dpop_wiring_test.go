package authn_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/dpop"
)

// TestDPoPBoundTokens runs RFC 9449 sender-constrained tokens through the Authenticator.
func TestDPoPBoundTokens(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	c := &clock{now: t0}
	const base = "https://fhir.example.test"
	newVerifier := func(nonces dpop.NonceSource) *dpop.Verifier {
		v, err := dpop.New(dpop.Config{BaseURL: base, Replay: dpop.NewMemoryReplayStore(1000, c.Now), Nonce: nonces, Now: c.Now})
		require.NoError(t, err)
		return v
	}
	newA := func(v *dpop.Verifier) *authn.Authenticator {
		a, err := authn.New(authn.Config{
			Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
			HTTPClient: f.srv.Client(), Now: c.Now, DPoP: v,
		})
		require.NoError(t, err)
		return a
	}
	a := newA(newVerifier(nil))

	holder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	thief, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	jkt, err := dpop.Thumbprint(&holder.PublicKey)
	require.NoError(t, err)
	m := claimsAt(f.issuer(), t0)
	m["cnf"] = map[string]string{"jkt": jkt}
	bound := sign(t, es, m)
	unbound := sign(t, es, claimsAt(f.issuer(), t0))
	// proof returns a maker of fresh proofs: each request needs its own (a proof's jti is
	// single-use).
	proof := func(key *ecdsa.PrivateKey, method, path, token, nonce string) func() string {
		return func() string {
			p, err := dpop.NewProof(key, method, base+path, token, nonce, c.Now())
			require.NoError(t, err)
			return p
		}
	}
	type req struct {
		scheme, token string
		proof         func() string // nil: no DPoP header
	}
	// do sends q twice: to Authenticate, for the error, and through the Handler, for
	// the answer.
	do := func(a *authn.Authenticator, q req) (*httptest.ResponseRecorder, error) {
		newReq := func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, base+"/fhir/Patient/pat-1", nil)
			r.Header.Set("Authorization", q.scheme+" "+q.token)
			if q.proof != nil {
				r.Header.Set("DPoP", q.proof())
			}
			return r
		}
		_, err := a.Authenticate(newReq())
		rec := httptest.NewRecorder()
		a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })).ServeHTTP(rec, newReq())
		return rec, err
	}

	fixed := proof(holder, "GET", "/fhir/Patient/pat-1", bound, "")()
	replayed := func() string { return fixed }
	tests := []struct {
		name      string
		q         req
		wantErr   error
		challenge string
	}{
		{name: "bound token with its key's proof", q: req{"DPoP", bound, proof(holder, "GET", "/fhir/Patient/pat-1", bound, "")}},
		{name: "again with a fresh proof (token cached)", q: req{"dpop", bound, proof(holder, "GET", "/fhir/Patient/pat-1", bound, "")}},
		{name: "a proof from another key", q: req{"DPoP", bound, proof(thief, "GET", "/fhir/Patient/pat-1", bound, "")}, wantErr: authn.ErrProofOfPossession,
			challenge: `Bearer error="invalid_token"`},
		{name: "bound token sent as Bearer", q: req{"Bearer", bound, nil}, wantErr: authn.ErrProofOfPossession, challenge: `Bearer error="invalid_token"`},
		{name: "unbound token sent as DPoP", q: req{"DPoP", unbound, proof(holder, "GET", "/fhir/Patient/pat-1", unbound, "")}, wantErr: authn.ErrProofOfPossession,
			challenge: `Bearer error="invalid_token"`},
		{name: "no proof", q: req{"DPoP", bound, nil}, wantErr: dpop.ErrMissingProof,
			challenge: `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256 PS256"`},
		{name: "proof for another method", q: req{"DPoP", bound, proof(holder, "POST", "/fhir/Patient/pat-1", bound, "")}, wantErr: dpop.ErrMethod,
			challenge: `DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256 PS256"`},
		{name: "proof for another token", q: req{"DPoP", bound, proof(holder, "GET", "/fhir/Patient/pat-1", unbound, "")}, wantErr: dpop.ErrAccessTokenHash},
		{name: "unbound token as Bearer still fine", q: req{"Bearer", unbound, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := do(a, tt.q)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Equal(t, 401, rec.Code)
			if tt.challenge != "" {
				assert.Equal(t, tt.challenge, rec.Header().Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("a replayed proof", func(t *testing.T) {
		_, err := do(a, req{"DPoP", bound, replayed}) // the first use of the proof succeeds
		require.NoError(t, err)
		var de *authn.DPoPError
		rec, err := do(a, req{"DPoP", bound, replayed})
		assert.Equal(t, 401, rec.Code, "the Handler's second use was refused too")
		require.ErrorAs(t, err, &de)
		assert.ErrorIs(t, err, dpop.ErrReplay)
		assert.ErrorIs(t, err, authn.ErrInvalidDPoPProof)
		assert.Equal(t, "dpop.replay", de.Reason())
	})

	t.Run("server nonces", func(t *testing.T) {
		nonces, err := dpop.NewNonces([]byte("0123456789abcdef0123456789abcdef"), time.Minute, c.Now)
		require.NoError(t, err)
		withNonce := newA(newVerifier(nonces))
		rec, err := do(withNonce, req{"DPoP", bound, proof(holder, "GET", "/fhir/Patient/pat-1", bound, "")})
		require.ErrorIs(t, err, authn.ErrUseDPoPNonce)
		assert.Equal(t, 401, rec.Code)
		assert.Contains(t, rec.Header().Get("WWW-Authenticate"), `error="use_dpop_nonce"`)
		nonce := rec.Header().Get("DPoP-Nonce")
		require.NotEmpty(t, nonce)
		rec, err = do(withNonce, req{"DPoP", bound, proof(holder, "GET", "/fhir/Patient/pat-1", bound, nonce)})
		require.NoError(t, err)
		assert.Equal(t, 204, rec.Code)
	})

	t.Run("DPoP scheme without a verifier", func(t *testing.T) {
		_, err := do(newA(nil), req{"DPoP", bound, proof(holder, "GET", "/fhir/Patient/pat-1", bound, "")})
		require.ErrorIs(t, err, authn.ErrUnsupportedScheme)
	})
}
