// Package bench compares phikit's JWT middleware with peer Go libraries. It is a
// separate module so that the peers never become dependencies of phikit itself.
//
// Every middleware verifies the same token string, against keys fetched once (before
// any timing) from the same JWKS URL on one loopback httptest.Server, and wraps the same
// bare handler that answers 204.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/authntest"
)

const (
	audience = "https://fhir.example.test"
	subject  = "dr-7"
)

var algs = []string{"ES256", "RS256"}

// fixture is one issuer publishing an ES256 key (authntest's) and an RS256 key (ours)
// in a single JWKS on a loopback server, and one valid token per algorithm.
type fixture struct {
	issuer  string // http://127.0.0.1:port/
	jwksURL string
	rsKey   *rsa.PrivateKey
	rsKid   string
	tokens  map[string]string // alg → token with iss, aud, sub, iat, exp (+1h), jti
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	fx := &fixture{issuer: srv.URL + "/", jwksURL: srv.URL + "/jwks.json", tokens: map[string]string{}}

	es, err := authntest.NewIssuer(fx.issuer)
	if err != nil {
		tb.Fatal(err)
	}
	// The ES256 half of the key set is authntest's own JWKS.
	rec := httptest.NewRecorder()
	es.JWKSHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	set, err := jwk.Parse(rec.Body.Bytes())
	if err != nil {
		tb.Fatal(err)
	}

	// The RS256 half: an RSA-2048 key of ours, published with kid, alg and use.
	fx.rsKey, err = rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	fx.rsKid = rand.Text()[:12]
	pub, err := jwk.FromRaw(&fx.rsKey.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: fx.rsKid, jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := pub.Set(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if err := set.AddKey(pub); err != nil {
		tb.Fatal(err)
	}
	body, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(body)
	})

	now := time.Now()
	// Mint fills iss, iat, exp (+1h) and jti; the RS256 token gets the same claims.
	fx.tokens["ES256"], err = es.Mint(map[string]any{"sub": subject, "aud": audience})
	if err != nil {
		tb.Fatal(err)
	}
	fx.tokens["RS256"] = fx.signRS256(tb, map[string]any{"typ": "at+jwt"}, map[string]any{
		"iss": fx.issuer, "aud": audience, "sub": subject,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
	})
	return fx
}

// signRS256 signs claims with the fixture's RSA key using golang-jwt; header gains alg
// and kid.
func (fx *fixture) signRS256(tb testing.TB, header, claims map[string]any) string {
	tb.Helper()
	h := map[string]any{"alg": "RS256", "kid": fx.rsKid}
	for k, v := range header {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		tb.Fatal(err)
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return signRaw(tb, jwt.SigningMethodRS256, fx.rsKey, hj, cj)
}

// signRaw signs the exact header and payload bytes given, so that tests can send JSON
// that a claims struct could not produce (duplicate members, strings for numbers).
func signRaw(tb testing.TB, m jwt.SigningMethod, key any, header, payload []byte) string {
	tb.Helper()
	in := b64(header) + "." + b64(payload)
	sig, err := m.Sign(in, key)
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + b64(sig)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// bare is the handler every middleware wraps.
var bare = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

// peer builds one middleware configured for one algorithm around bare. Building may not
// fetch keys; the accept check that follows always does, before any timing.
type peer struct {
	name  string
	build func(tb testing.TB, fx *fixture, alg string) http.Handler
}

var peers = []peer{
	{"phikit-first-sight", func(tb testing.TB, fx *fixture, alg string) http.Handler { return phikit(tb, fx, alg, -1) }},
	{"phikit-cached", func(tb testing.TB, fx *fixture, alg string) http.Handler { return phikit(tb, fx, alg, 0) }},
	{"auth0-go-jwt-middleware", auth0},
	{"golang-jwt+keyfunc", golangJWT},
}

func phikit(tb testing.TB, fx *fixture, alg string, cacheSize int) http.Handler {
	a, err := authn.New(authn.Config{
		Issuers: []authn.IssuerConfig{{
			Issuer: fx.issuer, JWKSURL: fx.jwksURL, Audiences: []string{audience},
			Algorithms: []string{alg}, InsecureAllowHTTP: true, // plain http on loopback
		}},
		CacheSize: cacheSize,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a.Handler(bare)
}

// auth0 uses go-jwt-middleware's own key source: jwks.CachingProvider with
// WithCustomJWKSURI, which fetches the JWKS URL directly (no OIDC discovery) on the
// first token and caches it for the TTL. validator.New checks alg, iss, aud, exp, nbf
// and iat with go-jose v2 underneath.
func auth0(tb testing.TB, fx *fixture, alg string) http.Handler {
	issuerURL, err := url.Parse(fx.issuer)
	if err != nil {
		tb.Fatal(err)
	}
	jwksURL, err := url.Parse(fx.jwksURL)
	if err != nil {
		tb.Fatal(err)
	}
	provider := jwks.NewCachingProvider(issuerURL, 5*time.Minute, jwks.WithCustomJWKSURI(jwksURL))
	v, err := validator.New(provider.KeyFunc, validator.SignatureAlgorithm(alg), fx.issuer, []string{audience})
	if err != nil {
		tb.Fatal(err)
	}
	return jwtmiddleware.New(v.ValidateToken).CheckJWT(bare)
}

type claimsKey struct{}

// golangJWT is the small middleware most services write by hand: the bearer token from
// the Authorization header, jwt.Parse (MapClaims) with keyfunc v3's Keyfunc over the
// JWKS URL, and the claims put in the request context. keyfunc.NewDefaultCtx is
// keyfunc.NewDefault with a context so the refresh goroutine ends with the test; it
// fetches the JWKS before returning.
func golangJWT(tb testing.TB, fx *fixture, alg string) http.Handler {
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{fx.jwksURL})
	if err != nil {
		tb.Fatal(err)
	}
	opts := []jwt.ParserOption{
		jwt.WithIssuer(fx.issuer),
		jwt.WithAudience(audience),
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		tok, err := jwt.Parse(raw, kf.Keyfunc, opts...)
		if err != nil || !tok.Valid {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		bare.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, tok.Claims)))
	})
}

// discard is a reusable ResponseWriter that keeps only the status.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) reset() {
	clear(d.h)
	d.code = 0
}

// status sends token through h and returns the response status.
func status(h http.Handler, token string) int {
	r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := &discard{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// tamperSignature changes one character in the middle of the signature.
func tamperSignature(token string) string {
	i := strings.LastIndexByte(token, '.') + (len(token)-strings.LastIndexByte(token, '.'))/2
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// checkAcceptReject fails tb unless h accepts token (204) and refuses it with one
// signature character changed (401). The first call also makes h fetch its keys.
func checkAcceptReject(tb testing.TB, name string, h http.Handler, token string) {
	tb.Helper()
	if got := status(h, token); got != http.StatusNoContent {
		tb.Fatalf("%s: valid token: status %d, want 204", name, got)
	}
	if got := status(h, tamperSignature(token)); got != http.StatusUnauthorized {
		tb.Fatalf("%s: tampered token: status %d, want 401", name, got)
	}
}

// TestPeersAgree proves the benchmark setup: every middleware, for every algorithm,
// accepts the shared token and refuses a tampered copy.
func TestPeersAgree(t *testing.T) {
	fx := newFixture(t)
	for _, alg := range algs {
		for _, p := range peers {
			t.Run(alg+"/"+p.name, func(t *testing.T) {
				checkAcceptReject(t, p.name, p.build(t, fx, alg), fx.tokens[alg])
			})
		}
	}
}

// BenchmarkJWT times one authenticated request through each middleware. Keys are
// fetched, and the token checked, before the timed loop; the request and the
// ResponseWriter are reused.
func BenchmarkJWT(b *testing.B) {
	fx := newFixture(b)
	for _, alg := range algs {
		for _, p := range peers {
			b.Run(alg+"/"+p.name, func(b *testing.B) {
				h := p.build(b, fx, alg)
				checkAcceptReject(b, p.name, h, fx.tokens[alg])
				r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
				r.Header.Set("Authorization", "Bearer "+fx.tokens[alg])
				w := &discard{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, r)
					if w.code != http.StatusNoContent {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		}
	}
}

// TestStrictness sends RS256 tokens that are wrong in one way each to every middleware.
// Each case names the peers that accept it (what README.md and bench/README.md say),
// and the test fails if any library, phikit included, does otherwise; run with -v for
// the table. phikit must refuse every case.
func TestStrictness(t *testing.T) {
	fx := newFixture(t)
	now := time.Now()
	claims := func(edit func(c map[string]any)) map[string]any {
		c := map[string]any{
			"iss": fx.issuer, "aud": audience, "sub": subject,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tok := func(edit func(c map[string]any)) string { return fx.signRS256(t, nil, claims(edit)) }
	valid := tok(nil)

	hdr := func(alg string) []byte {
		return fmt.Appendf(nil, `{"alg":%q,"kid":%q}`, alg, fx.rsKid)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&fx.rsKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// The same payload with its sub changed, under the original signature.
	parts := strings.Split(valid, ".")
	forgedPayload, err := json.Marshal(claims(func(c map[string]any) { c["sub"] = "admin" }))
	if err != nil {
		t.Fatal(err)
	}
	// The last signature character with a padding bit flipped: a different string that
	// decodes to the same bytes unless base64url is decoded strictly.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, valid[len(valid)-1])
	nonCanonical := valid[:len(valid)-1] + string(alphabet[last^1])

	const auth0Name, golangJWTName = "auth0-go-jwt-middleware", "golang-jwt+keyfunc"
	both := []string{auth0Name, golangJWTName}
	cases := []struct {
		name     string
		accepted []string // the peers that accept it, as the READMEs say; nil: every library refuses it
		tok      string
	}{
		{"tampered signature", nil, tamperSignature(valid)},
		{"tampered payload (sub)", nil, parts[0] + "." + b64(forgedPayload) + "." + parts[2]},
		{"expired", nil, tok(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		})},
		{"nbf in the future", nil, tok(func(c map[string]any) { c["nbf"] = now.Add(30 * time.Minute).Unix() })},
		{"wrong aud", nil, tok(func(c map[string]any) { c["aud"] = "https://other.example.test" })},
		{"wrong iss", nil, tok(func(c map[string]any) { c["iss"] = "https://evil.example.test/" })},
		{"alg none", nil, b64([]byte(`{"alg":"none"}`)) + "." + b64(payload) + "."},
		{"HS256 keyed with the RSA public key", nil, signRaw(t, jwt.SigningMethodHS256, pubDER, hdr("HS256"), payload)},
		{"signed by another key, same kid", nil, signRaw(t, jwt.SigningMethodRS256, other, hdr("RS256"), payload)},

		{"no exp", []string{auth0Name}, tok(func(c map[string]any) { delete(c, "exp") })},
		{"no sub", both, tok(func(c map[string]any) { delete(c, "sub") })},
		{"iat in the future", []string{golangJWTName}, tok(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(30*time.Minute).Unix(), now.Add(90*time.Minute).Unix()
		})},
		{"exp as a string", nil, tok(func(c map[string]any) { c["exp"] = fmt.Sprint(now.Add(time.Hour).Unix()) })},
		{"exp 30 days away", both, tok(func(c map[string]any) { c["exp"] = now.Add(30 * 24 * time.Hour).Unix() })},
		{"duplicate exp (expired, then valid)", []string{golangJWTName}, signRaw(t, jwt.SigningMethodRS256, fx.rsKey, hdr("RS256"),
			fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":%q,"iat":%d,"exp":%d,"exp":%d}`,
				fx.issuer, audience, subject, now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix(), now.Add(time.Hour).Unix()))},
		{"non-canonical base64 signature", both, nonCanonical},
		{"ID token (nonce claim)", both, tok(func(c map[string]any) { c["nonce"] = "n-0S6_WzA2Mj" })},
		{"typ JWE-like (\"JOSE+JSON\")", both, fx.signRS256(t, map[string]any{"typ": "JOSE+JSON"}, claims(nil))},
	}

	handlers := make([]http.Handler, len(peers))
	for i, p := range peers {
		handlers[i] = p.build(t, fx, "RS256")
		checkAcceptReject(t, p.name, handlers[i], valid)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-38s", "case (RS256)")
	for _, p := range peers {
		fmt.Fprintf(&table, " %-24s", p.name)
	}
	for _, c := range cases {
		fmt.Fprintf(&table, "\n%-38s", c.name)
		for i, p := range peers {
			got := status(handlers[i], c.tok)
			verdict := "refused"
			if got == http.StatusNoContent {
				verdict = "ACCEPTED"
			}
			if accepted, want := got == http.StatusNoContent, slices.Contains(c.accepted, p.name); accepted != want {
				t.Errorf("%s: %s: got accepted %v, want %v", p.name, c.name, accepted, want)
			}
			fmt.Fprintf(&table, " %-24s", fmt.Sprintf("%s (%d)", verdict, got))
		}
	}
	t.Log(table.String())
}
