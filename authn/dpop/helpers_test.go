package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/phikit/phikit/authn/dpop"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	baseURL    = "https://fhir.example.org"
	targetURI  = baseURL + "/fhir/Patient/123"
	testToken  = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEiLCJjbmYiOnt9fQ.c2ln"
	requestURL = "/fhir/Patient/123?_format=json"
)

// clock is a fake clock.
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

// testKeys are the keys tests sign with, generated once per test binary.
type testKeys struct {
	es, es2 *ecdsa.PrivateKey // P-256
	es384   *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rs      *rsa.PrivateKey // 2048 bits
	rs1024  *rsa.PrivateKey
}

var loadKeys = sync.OnceValues(func() (*testKeys, error) {
	var k testKeys
	var err error
	if k.es, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if k.es2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if k.es384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, err
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if k.rs, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	if k.rs1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		return nil, err
	}
	return &k, nil
})

func keys(tb testing.TB) *testKeys {
	tb.Helper()
	k, err := loadKeys()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// jwkOf returns key's JWK as a JSON object; for a private key it includes the private
// members.
func jwkOf(tb testing.TB, key any) map[string]any {
	tb.Helper()
	k, err := jwk.FromRaw(key)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(k)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func ath(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

var (
	rawURL = base64.RawURLEncoding
	enc    = rawURL.EncodeToString
)

// proofParts are the pieces of a proof a test builds, each replaceable.
type proofParts struct {
	alg        string        // signing algorithm (also the header's alg unless header says otherwise)
	signer     crypto.Signer // nil for HS256 and none
	hmacKey    []byte        // HS256
	header     map[string]any
	claims     map[string]any
	headerJSON string // when set, used instead of header
	claimsJSON string // when set, used instead of claims
	sig        string // when set, used as the encoded signature
}

// defaultParts is a valid ES256 proof of a GET of targetURI at t0 with testToken.
func defaultParts(tb testing.TB, jti string) *proofParts {
	k := keys(tb)
	return &proofParts{
		alg:    "ES256",
		signer: k.es,
		header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(tb, k.es.Public())},
		claims: map[string]any{"jti": jti, "htm": "GET", "htu": targetURI, "iat": t0.Unix(), "ath": ath(testToken)},
	}
}

// withKey makes p signed by key with alg, naming key's public JWK.
func (p *proofParts) withKey(tb testing.TB, alg string, key crypto.Signer) *proofParts {
	p.alg, p.signer = alg, key
	p.header["alg"] = alg
	p.header["jwk"] = jwkOf(tb, key.Public())
	return p
}

func (p *proofParts) encode(tb testing.TB) string {
	tb.Helper()
	h, c := p.headerJSON, p.claimsJSON
	if h == "" {
		h = string(mustJSON(tb, p.header))
	}
	if c == "" {
		c = string(mustJSON(tb, p.claims))
	}
	input := enc([]byte(h)) + "." + enc([]byte(c))
	if p.sig != "" {
		return input + "." + p.sig
	}
	return input + "." + enc(signInput(tb, p.alg, p.signer, p.hmacKey, []byte(input)))
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// signInput signs a JWS signing input as alg does.
func signInput(tb testing.TB, alg string, key crypto.Signer, hmacKey []byte, input []byte) []byte {
	tb.Helper()
	hashed := func(h crypto.Hash) []byte {
		hh := h.New()
		hh.Write(input)
		return hh.Sum(nil)
	}
	var sig []byte
	var err error
	switch alg {
	case "none":
		return nil
	case "HS256":
		m := hmac.New(sha256.New, hmacKey)
		m.Write(input)
		return m.Sum(nil)
	case "EdDSA":
		sig, err = key.Sign(rand.Reader, input, crypto.Hash(0))
	case "RS256":
		sig, err = key.Sign(rand.Reader, hashed(crypto.SHA256), crypto.SHA256)
	case "PS256":
		sig, err = key.Sign(rand.Reader, hashed(crypto.SHA256), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case "ES256", "ES384":
		h, size := crypto.SHA256, 32
		if alg == "ES384" {
			h, size = crypto.SHA384, 48
		}
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), hashed(h))
		if err == nil {
			sig = make([]byte, 2*size)
			r.FillBytes(sig[:size])
			s.FillBytes(sig[size:])
		}
	default:
		tb.Fatalf("signInput: unknown alg %q", alg)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return sig
}

// newVerifier returns a verifier at c's time with a fresh memory store, changed by edit.
func newVerifier(tb testing.TB, c *clock, edit func(*dpop.Config)) *dpop.Verifier {
	tb.Helper()
	cfg := dpop.Config{BaseURL: baseURL, Replay: dpop.NewMemoryReplayStore(0, c.Now), Now: c.Now}
	if edit != nil {
		edit(&cfg)
	}
	v, err := dpop.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
