package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
)

func request(method, target, proof string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	return r
}

// TestVerifyReplay: a proof is accepted once; a refused proof does not use up its jti; a
// jti is remembered until iat + MaxAge + ClockSkew, past the time the proof could be
// accepted.
func TestVerifyReplay(t *testing.T) {
	ctx := context.Background()
	c := &clock{now: t0}
	store := dpop.NewMemoryReplayStore(0, c.Now)
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Replay = store })

	wrong := defaultParts(t, "jti-1")
	wrong.claims["ath"] = ath("another token")
	valid := defaultParts(t, "jti-1").encode(t)
	steps := []struct {
		name    string
		advance time.Duration
		proof   string
		want    error
		wantLen int
	}{
		{"refused proof", 0, wrong.encode(t), dpop.ErrAccessTokenHash, 0},
		{"first use", 0, valid, nil, 1},
		{"replay", 0, valid, dpop.ErrReplay, 1},
		{"same jti, another signature", 0, defaultParts(t, "jti-1").encode(t), dpop.ErrReplay, 1},
		{"replay at MaxAge", dpop.DefaultMaxAge, valid, dpop.ErrReplay, 1},
		{"too old to replay", time.Second, valid, dpop.ErrProofExpired, 1},
		{"record expired after skew", dpop.DefaultClockSkew, valid, dpop.ErrProofExpired, 0},
	}
	for _, st := range steps {
		c.Add(st.advance)
		_, err := v.Verify(ctx, request(http.MethodGet, requestURL, st.proof), testToken)
		if !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Fatalf("%s: Verify() error = %v, want %v", st.name, err, st.want)
		}
		if got := store.Len(); got != st.wantLen {
			t.Fatalf("%s: store holds %d jtis, want %d", st.name, got, st.wantLen)
		}
	}
}

// failingStore fails every Use.
type failingStore struct{ err error }

func (s failingStore) Use(context.Context, string, time.Time) (bool, error) { return false, s.err }

func TestVerifyReplayStoreFailureFailsClosed(t *testing.T) {
	c := &clock{now: t0}
	cause := errors.New("connection refused")
	for _, tt := range []struct {
		name  string
		store dpop.ReplayStore
		cause error
	}{
		{"store error", failingStore{cause}, cause},
		{"memory store full", dpop.NewMemoryReplayStore(1, c.Now), dpop.ErrStoreFull},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Replay = tt.store })
			var err error
			for i := range 2 { // the memory store takes one jti
				_, err = v.Verify(context.Background(), request(http.MethodGet, requestURL, defaultParts(t, strings.Repeat("j", i+1)).encode(t)), testToken)
			}
			if !errors.Is(err, dpop.ErrReplayStore) || !errors.Is(err, tt.cause) {
				t.Fatalf("Verify() error = %v, want ErrReplayStore wrapping %v", err, tt.cause)
			}
			var de *dpop.Error
			if !errors.As(err, &de) || de.Reason() != "dpop.replay-store" {
				t.Fatalf("errors.As(%v) = %v, want the ErrReplayStore *Error", err, de)
			}
		})
	}
}

// TestVerifyNonce covers Config.Nonce: a proof must carry the current or previous
// window's nonce; ErrUseNonce asks the client to retry with NonceHeader's.
func TestVerifyNonce(t *testing.T) {
	ctx := context.Background()
	key := []byte("0123456789abcdef0123456789abcdef")
	c := &clock{now: t0}
	nonces, err := dpop.NewNonces(key, time.Minute, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.Nonce = nonces })
	current, err := v.NonceHeader(ctx)
	if err != nil || current == "" {
		t.Fatalf("NonceHeader() = %q, %v", current, err)
	}
	old, _ := dpop.NewNonces(key, time.Minute, func() time.Time { return t0.Add(-2 * time.Minute) })
	stale, _ := old.Nonce(ctx)
	prev, _ := dpop.NewNonces(key, time.Minute, func() time.Time { return t0.Add(-time.Minute) })
	previous, _ := prev.Nonce(ctx)
	otherKey, _ := dpop.NewNonces([]byte("another key, also thirty-two bytes!"), time.Minute, c.Now)
	foreign, _ := otherKey.Nonce(ctx)

	tests := []struct {
		name  string
		nonce any // nil: no nonce claim
		want  error
	}{
		{"nonce absent", nil, dpop.ErrUseNonce},
		{"nonce empty", "", dpop.ErrUseNonce},
		{"nonce valid", current, nil},
		{"nonce of the previous window", previous, nil},
		{"nonce two windows old", stale, dpop.ErrUseNonce},
		{"nonce of another key", foreign, dpop.ErrUseNonce},
		{"nonce garbage", "not-a-nonce", dpop.ErrUseNonce},
		{"nonce modified", current[:len(current)-1] + "A", dpop.ErrUseNonce},
		{"nonce a number", 7, dpop.ErrMalformedProof},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := defaultParts(t, "jti-"+tt.name)
			if tt.nonce != nil {
				p.claims["nonce"] = tt.nonce
			}
			_, err := v.Verify(ctx, request(http.MethodGet, requestURL, p.encode(t)), testToken)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("NonceHeader without a NonceSource", func(t *testing.T) {
		n, err := newVerifier(t, c, nil).NonceHeader(ctx)
		if n != "" || err != nil {
			t.Fatalf("NonceHeader() = %q, %v; want empty, nil", n, err)
		}
	})
}

func TestNew(t *testing.T) {
	store := dpop.NewMemoryReplayStore(0, nil)
	tests := []struct {
		name   string
		cfg    dpop.Config
		wantOK bool
	}{
		{"minimal", dpop.Config{BaseURL: baseURL, Replay: store}, true},
		{"path prefix", dpop.Config{BaseURL: baseURL + "/api/", Replay: store}, true},
		{"http on loopback", dpop.Config{BaseURL: "http://127.0.0.1:8080", Replay: store}, true},
		{"http on localhost", dpop.Config{BaseURL: "http://localhost:8080", Replay: store}, true},
		{"http on ::1", dpop.Config{BaseURL: "http://[::1]:8080", Replay: store}, true},
		{"all limits", dpop.Config{BaseURL: baseURL, Replay: store, MaxAge: 10 * time.Minute, ClockSkew: time.Minute, MaxProofBytes: 64 << 10,
			Algorithms: []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"}}, true},

		{"no BaseURL", dpop.Config{Replay: store}, false},
		{"no Replay", dpop.Config{BaseURL: baseURL}, false},
		{"http elsewhere", dpop.Config{BaseURL: "http://fhir.example.org", Replay: store}, false},
		{"relative BaseURL", dpop.Config{BaseURL: "/fhir", Replay: store}, false},
		{"BaseURL with query", dpop.Config{BaseURL: baseURL + "?a=b", Replay: store}, false},
		{"BaseURL with fragment", dpop.Config{BaseURL: baseURL + "#a", Replay: store}, false},
		{"BaseURL with user", dpop.Config{BaseURL: "https://u:p@fhir.example.org", Replay: store}, false},
		{"BaseURL ftp", dpop.Config{BaseURL: "ftp://fhir.example.org", Replay: store}, false},
		{"BaseURL not a URL", dpop.Config{BaseURL: "https://[::1", Replay: store}, false},
		{"alg none", dpop.Config{BaseURL: baseURL, Replay: store, Algorithms: []string{"none"}}, false},
		{"alg HS256", dpop.Config{BaseURL: baseURL, Replay: store, Algorithms: []string{"ES256", "HS256"}}, false},
		{"alg lowercase", dpop.Config{BaseURL: baseURL, Replay: store, Algorithms: []string{"es256"}}, false},
		{"no algorithms", dpop.Config{BaseURL: baseURL, Replay: store, Algorithms: []string{}}, false},
		{"MaxAge negative", dpop.Config{BaseURL: baseURL, Replay: store, MaxAge: -time.Second}, false},
		{"MaxAge too long", dpop.Config{BaseURL: baseURL, Replay: store, MaxAge: 11 * time.Minute}, false},
		{"ClockSkew too long", dpop.Config{BaseURL: baseURL, Replay: store, ClockSkew: 2 * time.Minute}, false},
		{"MaxProofBytes negative", dpop.Config{BaseURL: baseURL, Replay: store, MaxProofBytes: -1}, false},
		{"MaxProofBytes too large", dpop.Config{BaseURL: baseURL, Replay: store, MaxProofBytes: 1 << 20}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := dpop.New(tt.cfg)
			if (err == nil) != tt.wantOK {
				t.Fatalf("New() error = %v, want ok %v", err, tt.wantOK)
			}
			if err != nil && (v != nil || !strings.HasPrefix(err.Error(), "dpop: ")) {
				t.Fatalf("New() = %v, %q; want nil and a \"dpop: \" error", v, err)
			}
		})
	}
}

func TestAlgorithms(t *testing.T) {
	for _, tt := range []struct {
		configured []string
		want       string
	}{
		{nil, "ES256 EdDSA RS256 PS256"},
		{[]string{"PS256", "ES256", "PS256"}, "PS256 ES256"},
	} {
		v, err := dpop.New(dpop.Config{BaseURL: baseURL, Replay: dpop.NewMemoryReplayStore(0, nil), Algorithms: tt.configured})
		if err != nil {
			t.Fatal(err)
		}
		got := v.Algorithms()
		if strings.Join(got, " ") != tt.want {
			t.Errorf("Algorithms(%v) = %v, want %s", tt.configured, got, tt.want)
		}
		got[0] = "none" // the caller's copy
		if v.Algorithms()[0] == "none" {
			t.Error("Algorithms() returned the verifier's own slice")
		}
	}
}

func TestHTU(t *testing.T) {
	tests := []struct {
		base, target, want string
	}{
		{baseURL, "/fhir/Patient/1?x=y", "https://fhir.example.org/fhir/Patient/1"},
		{"HTTPS://FHIR.example.org:443/", "/a", "https://fhir.example.org/a"},
		{"https://fhir.example.org:8443", "/a", "https://fhir.example.org:8443/a"},
		{"https://example.org/api/", "/fhir/Patient", "https://example.org/api/fhir/Patient"},
		{"https://example.org/api", "/", "https://example.org/api/"},
		{baseURL, "/a%2fb/%7e", "https://fhir.example.org/a%2Fb/~"},
		{"http://[::1]:80", "/x", "http://[::1]/x"},
	}
	for _, tt := range tests {
		v, err := dpop.New(dpop.Config{BaseURL: tt.base, Replay: dpop.NewMemoryReplayStore(0, nil)})
		if err != nil {
			t.Fatal(err)
		}
		if got := v.HTU(httptest.NewRequest(http.MethodGet, tt.target, nil)); got != tt.want {
			t.Errorf("BaseURL %q, target %q: HTU() = %q, want %q", tt.base, tt.target, got, tt.want)
		}
	}
}

// TestHTUIsAccepted: a proof naming exactly what HTU returns is accepted, with a path
// prefix in BaseURL and encoded characters in the path.
func TestHTUIsAccepted(t *testing.T) {
	k := keys(t)
	for _, target := range []string{"/", "/fhir/Patient/1", "/fhir/Binary/a%2Fb", "/fhir/%E2%82%AC?q=1", "/a;b=c/d"} {
		c := &clock{now: t0}
		v := newVerifier(t, c, func(cfg *dpop.Config) { cfg.BaseURL = "https://example.org/api" })
		r := httptest.NewRequest(http.MethodPut, target, nil)
		proof, err := dpop.NewProof(k.es, http.MethodPut, v.HTU(r), testToken, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("DPoP", proof)
		if _, err := v.Verify(context.Background(), r, testToken); err != nil {
			t.Errorf("target %q, htu %q: Verify() error = %v", target, v.HTU(r), err)
		}
	}
}

// TestNewProof: proofs made by NewProof verify, and their JKT is Thumbprint's.
func TestNewProof(t *testing.T) {
	k := keys(t)
	for _, tt := range []struct {
		name  string
		key   crypto.Signer
		token string
		nonce string
	}{
		{"ES256", k.es, testToken, ""},
		{"EdDSA", k.ed, testToken, ""},
		{"RS256", k.rs, "", ""},
		{"ES256 with nonce", k.es, testToken, "nonce"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			v := newVerifier(t, c, nil)
			proof, err := dpop.NewProof(tt.key, http.MethodPost, targetURI, tt.token, tt.nonce, t0)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), request(http.MethodPost, requestURL, proof), tt.token)
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			want, err := dpop.Thumbprint(tt.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if p.JKT != want || len(p.JKT) != 43 {
				t.Errorf("JKT = %q, want %q", p.JKT, want)
			}
			if fromPrivate, _ := dpop.Thumbprint(tt.key); fromPrivate != want {
				t.Errorf("Thumbprint(private) = %q, want %q", fromPrivate, want)
			}
			if !p.IssuedAt.Equal(t0) || len(p.JTI) < 22 {
				t.Errorf("Proof = %+v, want iat %s and a random jti", p, t0)
			}
		})
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, key := range []crypto.Signer{nil, p384} {
		if _, err := dpop.NewProof(key, http.MethodGet, targetURI, "", "", t0); err == nil {
			t.Errorf("NewProof(%T) succeeded, want an error", key)
		}
	}
}

// TestThumbprintRFC7638 checks Thumbprint against the example of RFC 7638 §3.1.
func TestThumbprintRFC7638(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	got, err := dpop.Thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want || err != nil {
		t.Fatalf("Thumbprint() = %q, %v; want %q", got, err, want)
	}
}

func TestErrors(t *testing.T) {
	all := []*dpop.Error{dpop.ErrMissingProof, dpop.ErrMultipleProofs, dpop.ErrProofTooLarge, dpop.ErrMalformedProof,
		dpop.ErrWrongType, dpop.ErrAlgorithm, dpop.ErrBadKey, dpop.ErrSignature, dpop.ErrMissingClaim, dpop.ErrMethod,
		dpop.ErrURI, dpop.ErrProofExpired, dpop.ErrIssuedInFuture, dpop.ErrAccessTokenHash, dpop.ErrUseNonce,
		dpop.ErrReplay, dpop.ErrReplayStore}
	reasons := map[string]bool{}
	for _, e := range all {
		if !strings.HasPrefix(e.Error(), "dpop: ") || !strings.HasPrefix(e.Reason(), "dpop.") {
			t.Errorf("%q / %q: want a \"dpop: \" message and a \"dpop.\" reason", e.Error(), e.Reason())
		}
		if reasons[e.Reason()] {
			t.Errorf("reason %q used twice", e.Reason())
		}
		reasons[e.Reason()] = true
	}
}
