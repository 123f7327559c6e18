package dpop_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/dpop"
)

// TestVerify is the specification of Verify: one accepted or refused proof per row.
func TestVerify(t *testing.T) {
	k := keys(t)
	tests := []struct {
		name   string
		method string // request method; "" means GET
		target string // request target; "" means requestURL
		token  string // access token; "-" means none
		edit   func(t *testing.T, p *proofParts)
		proof  func(valid string) []string // DPoP header values; nil means the proof alone
		want   error
	}{
		// Accepted.
		{name: "valid ES256"},
		{name: "valid EdDSA", edit: func(t *testing.T, p *proofParts) { p.withKey(t, "EdDSA", k.ed) }},
		{name: "valid RS256", edit: func(t *testing.T, p *proofParts) { p.withKey(t, "RS256", k.rs) }},
		{name: "valid PS256", edit: func(t *testing.T, p *proofParts) { p.withKey(t, "PS256", k.rs) }},
		{name: "valid token request without ath", token: "-", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "ath") }},
		{name: "ath ignored without an access token", token: "-", edit: func(t *testing.T, p *proofParts) { p.claims["ath"] = "whatever" }},
		{name: "POST", method: http.MethodPost, edit: func(t *testing.T, p *proofParts) { p.claims["htm"] = "POST" }},
		{name: "htu query and fragment ignored", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = targetURI + "?other=1#frag" }},
		{name: "request without query", target: "/fhir/Patient/123"},
		{name: "htu scheme and host case-insensitive", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "HTTPS://FHIR.Example.ORG/fhir/Patient/123" }},
		{name: "htu default port", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "https://fhir.example.org:443/fhir/Patient/123" }},
		{name: "htu percent-encoded unreserved", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/fhir/Patient/%31%32%33" }},
		{name: "htu encoded path matches request", target: "/fhir/Binary/a%2Fb", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/fhir/Binary/a%2fb" }},
		{name: "iat at MaxAge", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = t0.Add(-dpop.DefaultMaxAge).Unix() }},
		{name: "iat at ClockSkew", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = t0.Add(dpop.DefaultClockSkew).Unix() }},
		{name: "iat fractional", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = float64(t0.Unix()) + 0.5 }},
		{name: "jti of 256 bytes", edit: func(t *testing.T, p *proofParts) { p.claims["jti"] = strings.Repeat("j", 256) }},
		{name: "nonce claim ignored without NonceSource", edit: func(t *testing.T, p *proofParts) { p.claims["nonce"] = "anything" }},
		{name: "jwk with alg and use", edit: func(t *testing.T, p *proofParts) {
			j := p.header["jwk"].(map[string]any)
			j["alg"], j["use"], j["kid"] = "ES256", "sig", "k1"
		}},
		{name: "unknown header and claim ignored", edit: func(t *testing.T, p *proofParts) {
			p.header["kid"] = "k1"
			p.claims["extra"] = []any{1, "x", map[string]any{"a": nil}}
		}},

		// The DPoP header.
		{name: "no DPoP header", proof: func(string) []string { return nil }, want: dpop.ErrMissingProof},
		{name: "two DPoP headers", proof: func(p string) []string { return []string{p, p} }, want: dpop.ErrMultipleProofs},
		{name: "two proofs in one header", proof: func(p string) []string { return []string{p + ", " + p} }, want: dpop.ErrMalformedProof},
		{name: "oversize", proof: func(p string) []string { return []string{p + strings.Repeat("A", dpop.DefaultMaxProofBytes-len(p)+1)} }, want: dpop.ErrProofTooLarge},
		{name: "empty", proof: func(string) []string { return []string{""} }, want: dpop.ErrMalformedProof},

		// JWS form.
		{name: "two parts", proof: func(p string) []string { return []string{p[:strings.LastIndexByte(p, '.')]} }, want: dpop.ErrMalformedProof},
		{name: "four parts", proof: func(p string) []string { return []string{p + ".AAAA"} }, want: dpop.ErrMalformedProof},
		{name: "JWE compact", proof: func(string) []string { return []string{"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"} }, want: dpop.ErrMalformedProof},
		{name: "JSON serialization", proof: func(string) []string { return []string{`{"payload":"e30","signatures":[]}`} }, want: dpop.ErrMalformedProof},
		{name: "bad base64 header", proof: func(p string) []string { return []string{"!" + p[1:]} }, want: dpop.ErrMalformedProof},
		{name: "padded base64", proof: func(p string) []string { return []string{p + "="} }, want: dpop.ErrMalformedProof},
		{name: "bad base64 signature", proof: func(p string) []string { return []string{p[:len(p)-2] + "*A"} }, want: dpop.ErrMalformedProof},
		{name: "header not an object", edit: func(t *testing.T, p *proofParts) { p.headerJSON = `["dpop+jwt"]` }, want: dpop.ErrMalformedProof},
		{name: "header null", edit: func(t *testing.T, p *proofParts) { p.headerJSON = `null` }, want: dpop.ErrMalformedProof},
		{name: "duplicate header member", edit: func(t *testing.T, p *proofParts) {
			h := string(mustJSON(t, p.header))
			p.headerJSON = `{"typ":"jwt",` + h[1:]
		}, want: dpop.ErrMalformedProof},
		{name: "header member in other case", edit: func(t *testing.T, p *proofParts) { p.header["ALG"] = "none" }, want: dpop.ErrMalformedProof},
		{name: "crit", edit: func(t *testing.T, p *proofParts) { p.header["crit"] = []string{"exp"} }, want: dpop.ErrMalformedProof},
		{name: "duplicate claim", edit: func(t *testing.T, p *proofParts) {
			c := string(mustJSON(t, p.claims))
			p.claimsJSON = `{"htm":"DELETE",` + c[1:]
		}, want: dpop.ErrMalformedProof},
		{name: "escaped duplicate claim", edit: func(t *testing.T, p *proofParts) {
			c := string(mustJSON(t, p.claims))
			p.claimsJSON = `{"ht\u006d":"DELETE",` + c[1:]
		}, want: dpop.ErrMalformedProof},
		{name: "claim in other case", edit: func(t *testing.T, p *proofParts) { p.claims["HTU"] = "https://evil.example/" }, want: dpop.ErrMalformedProof},
		{name: "claims invalid UTF-8", edit: func(t *testing.T, p *proofParts) {
			p.claimsJSON = `{"jti":"a` + "\xff" + `","htm":"GET","htu":"` + targetURI + `","iat":` + itoa(t0.Unix()) + `,"ath":"` + ath(testToken) + `"}`
		}, want: dpop.ErrMalformedProof},

		// Header checks.
		{name: "typ JWT", edit: func(t *testing.T, p *proofParts) { p.header["typ"] = "JWT" }, want: dpop.ErrWrongType},
		{name: "typ missing", edit: func(t *testing.T, p *proofParts) { delete(p.header, "typ") }, want: dpop.ErrWrongType},
		{name: "typ with media type prefix", edit: func(t *testing.T, p *proofParts) { p.header["typ"] = "application/dpop+jwt" }, want: dpop.ErrWrongType},
		{name: "alg none", edit: func(t *testing.T, p *proofParts) { p.alg, p.header["alg"], p.sig = "none", "none", "AAAA" }, want: dpop.ErrAlgorithm},
		{name: "alg none without signature", edit: func(t *testing.T, p *proofParts) { p.alg, p.header["alg"] = "none", "none" }, want: dpop.ErrMalformedProof},
		{name: "HS256 with the jwk as secret", edit: func(t *testing.T, p *proofParts) {
			p.alg, p.header["alg"], p.hmacKey = "HS256", "HS256", mustJSON(t, p.header["jwk"])
		}, want: dpop.ErrAlgorithm},
		{name: "alg not configured", edit: func(t *testing.T, p *proofParts) { p.withKey(t, "ES384", k.es384) }, want: dpop.ErrAlgorithm},
		{name: "alg missing", edit: func(t *testing.T, p *proofParts) { delete(p.header, "alg") }, want: dpop.ErrAlgorithm},

		// The key.
		{name: "jwk missing", edit: func(t *testing.T, p *proofParts) { delete(p.header, "jwk") }, want: dpop.ErrBadKey},
		{name: "jwk null", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = nil }, want: dpop.ErrBadKey},
		{name: "jwk a string", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = "key" }, want: dpop.ErrBadKey},
		{name: "jwk with private d", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = jwkOf(t, k.es) }, want: dpop.ErrBadKey},
		{name: "RSA jwk with private members", edit: func(t *testing.T, p *proofParts) {
			p.withKey(t, "RS256", k.rs)
			p.header["jwk"] = jwkOf(t, k.rs)
		}, want: dpop.ErrBadKey},
		{name: "jwk with private member in other case", edit: func(t *testing.T, p *proofParts) {
			p.header["jwk"].(map[string]any)["D"] = jwkOf(t, k.es)["d"]
		}, want: dpop.ErrBadKey},
		{name: "jwk with duplicate member", edit: func(t *testing.T, p *proofParts) {
			j := string(mustJSON(t, p.header["jwk"]))
			p.headerJSON = `{"typ":"dpop+jwt","alg":"ES256","jwk":{"x":"AAAA",` + j[1:] + `}`
		}, want: dpop.ErrBadKey},
		{name: "oct key", edit: func(t *testing.T, p *proofParts) {
			p.header["jwk"] = map[string]any{"kty": "oct", "k": enc([]byte("0123456789abcdef0123456789abcdef"))}
		}, want: dpop.ErrBadKey},
		{name: "oct key with HS256", edit: func(t *testing.T, p *proofParts) {
			secret := []byte("0123456789abcdef0123456789abcdef")
			p.alg, p.header["alg"], p.hmacKey = "HS256", "HS256", secret
			p.header["jwk"] = map[string]any{"kty": "oct", "k": enc(secret)}
		}, want: dpop.ErrAlgorithm},
		{name: "jwk alg differs", edit: func(t *testing.T, p *proofParts) { p.header["jwk"].(map[string]any)["alg"] = "ES384" }, want: dpop.ErrBadKey},
		{name: "jwk use enc", edit: func(t *testing.T, p *proofParts) { p.header["jwk"].(map[string]any)["use"] = "enc" }, want: dpop.ErrBadKey},
		{name: "EC jwk with RS256", edit: func(t *testing.T, p *proofParts) { p.header["alg"] = "RS256" }, want: dpop.ErrBadKey},
		{name: "RSA jwk with ES256", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = jwkOf(t, k.rs.Public()) }, want: dpop.ErrBadKey},
		{name: "P-384 jwk with ES256", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = jwkOf(t, k.es384.Public()) }, want: dpop.ErrBadKey},
		{name: "RSA 1024", edit: func(t *testing.T, p *proofParts) { p.withKey(t, "RS256", k.rs1024) }, want: dpop.ErrBadKey},
		{name: "EC point not on curve", edit: func(t *testing.T, p *proofParts) {
			p.header["jwk"].(map[string]any)["y"] = enc(append(make([]byte, 31), 1))
		}, want: dpop.ErrBadKey},
		{name: "unknown kty", edit: func(t *testing.T, p *proofParts) { p.header["jwk"] = map[string]any{"kty": "XYZ"} }, want: dpop.ErrBadKey},

		// The signature.
		{name: "signed by another key than the jwk", edit: func(t *testing.T, p *proofParts) { p.signer = k.es2 }, want: dpop.ErrSignature},
		{name: "EdDSA signed by another key", edit: func(t *testing.T, p *proofParts) {
			p.withKey(t, "EdDSA", k.ed)
			p.header["jwk"] = jwkOf(t, ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())
		}, want: dpop.ErrSignature},
		{name: "tampered claims", proof: func(p string) []string {
			parts := strings.Split(p, ".")
			return []string{parts[0] + "." + enc([]byte(`{"jti":"x","htm":"GET","htu":"`+targetURI+`","iat":`+itoa(t0.Unix())+`,"ath":"`+ath(testToken)+`"}`)) + "." + parts[2]}
		}, want: dpop.ErrSignature},
		{name: "ES256 signature in ASN.1", edit: func(t *testing.T, p *proofParts) { p.sig = enc(make([]byte, 70)) }, want: dpop.ErrSignature},
		{name: "empty-ish signature", edit: func(t *testing.T, p *proofParts) { p.sig = "AA" }, want: dpop.ErrSignature},

		// Claims.
		{name: "missing jti", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "jti") }, want: dpop.ErrMissingClaim},
		{name: "empty jti", edit: func(t *testing.T, p *proofParts) { p.claims["jti"] = "" }, want: dpop.ErrMissingClaim},
		{name: "jti too long", edit: func(t *testing.T, p *proofParts) { p.claims["jti"] = strings.Repeat("j", 257) }, want: dpop.ErrMissingClaim},
		{name: "jti a number", edit: func(t *testing.T, p *proofParts) { p.claims["jti"] = 7 }, want: dpop.ErrMalformedProof},
		{name: "missing htm", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "htm") }, want: dpop.ErrMissingClaim},
		{name: "missing htu", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "htu") }, want: dpop.ErrMissingClaim},
		{name: "missing iat", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "iat") }, want: dpop.ErrMissingClaim},
		{name: "iat a string", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = itoa(t0.Unix()) }, want: dpop.ErrMissingClaim},
		{name: "iat negative", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = -1 }, want: dpop.ErrMissingClaim},
		{name: "wrong htm", edit: func(t *testing.T, p *proofParts) { p.claims["htm"] = "POST" }, want: dpop.ErrMethod},
		{name: "htm lowercase", edit: func(t *testing.T, p *proofParts) { p.claims["htm"] = "get" }, want: dpop.ErrMethod},
		{name: "proof for GET on DELETE", method: http.MethodDelete, want: dpop.ErrMethod},
		{name: "wrong htu host", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "https://evil.example.org/fhir/Patient/123" }, want: dpop.ErrURI},
		{name: "wrong htu path", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/fhir/Patient/124" }, want: dpop.ErrURI},
		{name: "proof for another path", target: "/fhir/Patient/456", want: dpop.ErrURI},
		{name: "htu path in other case", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/FHIR/Patient/123" }, want: dpop.ErrURI},
		{name: "htu trailing slash", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = targetURI + "/" }, want: dpop.ErrURI},
		{name: "htu dot segment", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/fhir/x/../Patient/123" }, want: dpop.ErrURI},
		{name: "htu http", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "http://fhir.example.org/fhir/Patient/123" }, want: dpop.ErrURI},
		{name: "htu other port", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "https://fhir.example.org:8443/fhir/Patient/123" }, want: dpop.ErrURI},
		{name: "htu with user", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "https://a@fhir.example.org/fhir/Patient/123" }, want: dpop.ErrURI},
		{name: "htu relative", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = "/fhir/Patient/123" }, want: dpop.ErrURI},
		{name: "htu encoded slash is not a slash", target: "/fhir/Binary/a/b", edit: func(t *testing.T, p *proofParts) { p.claims["htu"] = baseURL + "/fhir/Binary/a%2Fb" }, want: dpop.ErrURI},
		{name: "iat too old", edit: func(t *testing.T, p *proofParts) { p.claims["iat"] = t0.Add(-dpop.DefaultMaxAge - time.Second).Unix() }, want: dpop.ErrProofExpired},
		{name: "iat in the future", edit: func(t *testing.T, p *proofParts) {
			p.claims["iat"] = t0.Add(dpop.DefaultClockSkew + time.Second).Unix()
		}, want: dpop.ErrIssuedInFuture},
		{name: "wrong ath", edit: func(t *testing.T, p *proofParts) { p.claims["ath"] = ath("another token") }, want: dpop.ErrAccessTokenHash},
		{name: "ath missing with a token", edit: func(t *testing.T, p *proofParts) { delete(p.claims, "ath") }, want: dpop.ErrAccessTokenHash},
		{name: "ath of the token in standard base64", edit: func(t *testing.T, p *proofParts) { p.claims["ath"] = ath(testToken) + "=" }, want: dpop.ErrAccessTokenHash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			v := newVerifier(t, c, nil)
			parts := defaultParts(t, "jti-"+tt.name)
			if tt.edit != nil {
				tt.edit(t, parts)
			}
			proof := parts.encode(t)
			values := []string{proof}
			if tt.proof != nil {
				values = tt.proof(proof)
			}
			method, target, token := tt.method, tt.target, tt.token
			if method == "" {
				method = http.MethodGet
			}
			if target == "" {
				target = requestURL
			}
			if token == "" {
				token = testToken
			} else if token == "-" {
				token = ""
			}
			r := httptest.NewRequest(method, target, nil)
			r.Header["Dpop"] = values // canonical form of "DPoP"

			got, err := v.Verify(context.Background(), r, token)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
			if err != nil {
				var de *dpop.Error
				if !errors.As(err, &de) {
					t.Fatalf("error %v is not a *dpop.Error", err)
				}
				if got != nil {
					t.Fatalf("Verify() = %+v with an error", got)
				}
				for _, secret := range []string{testToken, proof} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error %q contains the token or the proof", err)
					}
				}
				return
			}
			wantJKT, terr := dpop.Thumbprint(parts.signer.Public())
			if terr != nil {
				t.Fatal(terr)
			}
			if got.JKT != wantJKT {
				t.Errorf("JKT = %q, want %q", got.JKT, wantJKT)
			}
			if got.JTI != parts.claims["jti"] {
				t.Errorf("JTI = %q, want %q", got.JTI, parts.claims["jti"])
			}
			if d := got.IssuedAt.Sub(t0); d < -dpop.DefaultMaxAge || d > dpop.DefaultClockSkew {
				t.Errorf("IssuedAt = %s, want near %s", got.IssuedAt, t0)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
