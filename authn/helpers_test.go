package authn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/phikit/phikit/authn"
)

// testKey is a signing key of a test issuer.
type testKey struct {
	kid  string
	alg  string
	priv crypto.Signer
}

func newES256(t testing.TB, kid string) *testKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: "ES256", priv: k}
}

func newRS256(t testing.TB, kid string) *testKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: "RS256", priv: k}
}

func newEdDSA(t testing.TB, kid string) *testKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: "EdDSA", priv: k}
}

// jwk returns the public JWK of k, as an issuer publishes it.
func (k *testKey) jwk(t testing.TB) map[string]any {
	key, err := jwk.FromRaw(k.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, k.kid)
	_ = key.Set(jwk.AlgorithmKey, k.alg)
	_ = key.Set(jwk.KeyUsageKey, "sig")
	b, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

var b64 = base64.RawURLEncoding

// signRaw builds a compact JWS from raw header and payload JSON, signed by k with k's
// algorithm, so that tests control every byte an attacker could.
func signRaw(t testing.TB, k *testKey, header, payload string) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	return input + "." + b64.EncodeToString(k.sign(t, []byte(input)))
}

func (k *testKey) sign(t testing.TB, input []byte) []byte {
	switch priv := k.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(priv, input)
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, d[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case *rsa.PrivateKey:
		if k.alg == "RS512" {
			d := sha512.Sum512(input)
			sig, _ := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA512, d[:])
			return sig
		}
		d := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("unknown key type %T", k.priv)
	return nil
}

// sign builds a token with the standard header for k and the given claims.
func sign(t testing.TB, k *testKey, claims map[string]any) string {
	return signRaw(t, k, fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"at+jwt"}`, k.alg, k.kid), mustJSON(t, claims))
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeIssuer is an identity provider's key endpoints over TLS: discovery and JWKS.
type fakeIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []*testKey
	fail    bool   // answer 500
	cc      string // Cache-Control of the JWKS response
	fetches atomic.Int64
}

func newFakeIssuer(t testing.TB, keys ...*testKey) *fakeIssuer {
	f := &fakeIssuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.issuer(), "jwks_uri": f.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var set []map[string]any
		for _, k := range f.keys {
			set = append(set, k.jwk(t))
		}
		if f.cc != "" {
			w.Header().Set("Cache-Control", f.cc)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) issuer() string { return f.srv.URL + "/" }

func (f *fakeIssuer) set(fn func(f *fakeIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

const audience = "https://fhir.example.test"

// claimsAt returns valid claims for issuer iss at time now.
func claimsAt(iss string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       iss,
		"sub":       "canary-subject-7",
		"aud":       audience,
		"iat":       now.Unix(),
		"exp":       now.Add(time.Hour).Unix(),
		"jti":       "jti-1",
		"client_id": "smart-app",
		"scope":     "patient/Observation.rs patient/Patient.r",
		"patient":   "pat-1",
	}
}

// newAuth returns an authenticator trusting f (JWKS by discovery) on clock c.
func newAuth(t testing.TB, f *fakeIssuer, c *clock, mod func(*authn.IssuerConfig)) *authn.Authenticator {
	ic := authn.IssuerConfig{
		Issuer:     f.issuer(),
		Audiences:  []string{audience},
		Algorithms: []string{"ES256", "RS256", "EdDSA"},
	}
	if mod != nil {
		mod(&ic)
	}
	a, err := authn.New(authn.Config{
		Issuers:    []authn.IssuerConfig{ic},
		HTTPClient: f.srv.Client(),
		Now:        c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
