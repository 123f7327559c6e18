package authn_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/authn"
)

// TestAttacks is the table of JWT attack classes: each row is a request an attacker (or a
// confused client) could send, and what phikit must answer.
func TestAttacks(t *testing.T) {
	es := newES256(t, "es-1")
	rs := newRS256(t, "rs-1")
	ed := newEdDSA(t, "ed-1")
	attacker := newES256(t, "es-1") // same kid, different key
	f := newFakeIssuer(t, es, rs, ed)
	other := newFakeIssuer(t, newES256(t, "other-1"))
	c := &clock{now: t0}
	a := newAuth(t, f, c, nil)
	iss := f.issuer()

	claims := func(mod func(m map[string]any)) map[string]any {
		m := claimsAt(iss, t0)
		if mod != nil {
			mod(m)
		}
		return m
	}
	valid := sign(t, es, claims(nil))
	parts := strings.Split(valid, ".")
	rsPub, _ := x509.MarshalPKIXPublicKey(rs.priv.Public())
	hsConfusion := func() string {
		input := b64.EncodeToString([]byte(`{"alg":"HS256","kid":"rs-1"}`)) + "." + parts[1]
		mac := hmac.New(sha256.New, rsPub)
		mac.Write([]byte(input))
		return input + "." + b64.EncodeToString(mac.Sum(nil))
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	tests := []struct {
		name    string
		header  http.Header
		query   string
		wantErr error // nil: allowed
	}{
		{name: "valid ES256", header: bearer(valid)},
		{name: "valid RS256", header: bearer(sign(t, rs, claims(nil)))},
		{name: "valid EdDSA", header: bearer(sign(t, ed, claims(nil)))},
		{name: "scheme is case-insensitive", header: http.Header{"Authorization": {"bEaReR " + valid}}},

		{name: "no credentials", header: http.Header{}, wantErr: authn.ErrNoCredentials},
		{name: "Basic scheme", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, wantErr: authn.ErrUnsupportedScheme},
		{name: "two Authorization headers", header: http.Header{"Authorization": {"Bearer " + valid, "Bearer " + valid}}, wantErr: authn.ErrMultipleCredentials},
		{name: "token in the query string", header: http.Header{}, query: "access_token=" + valid, wantErr: authn.ErrTokenInQuery},
		{name: "token in the query string beside a header", header: bearer(valid), query: "access_token=" + valid, wantErr: authn.ErrTokenInQuery},

		{name: "alg none", header: bearer(b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."), wantErr: authn.ErrMalformedToken},
		{name: "alg none with a signature", header: bearer(b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "." + parts[2]), wantErr: authn.ErrAlgorithm},
		{name: "RS/HS confusion: HMAC keyed with the RSA public key", header: bearer(hsConfusion()), wantErr: authn.ErrAlgorithm},
		{name: "algorithm not allowed for the issuer", header: bearer(signRaw(t, &testKey{kid: "rs-1", alg: "RS512", priv: rs.priv}, `{"alg":"RS512","kid":"rs-1"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrAlgorithm},
		{name: "embedded jwk", header: bearer(signRaw(t, attacker, fmt.Sprintf(`{"alg":"ES256","jwk":%s}`, mustJSON(t, attacker.jwk(t))), mustJSON(t, claims(nil)))), wantErr: authn.ErrEmbeddedKey},
		{name: "jku", header: bearer(signRaw(t, attacker, `{"alg":"ES256","kid":"es-1","jku":"https://evil.example/jwks"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrEmbeddedKey},
		{name: "x5u", header: bearer(signRaw(t, attacker, `{"alg":"ES256","kid":"es-1","x5u":"https://evil.example/cert"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrEmbeddedKey},
		{name: "attacker's key under the issuer's kid", header: bearer(sign(t, attacker, claims(nil))), wantErr: authn.ErrSignature},
		{name: "kid injection", header: bearer(signRaw(t, attacker, `{"alg":"ES256","kid":"../../../../dev/null' OR '1'='1"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrUnknownKey},
		{name: "unknown crit", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1","crit":["exp"],"exp":1}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrCriticalHeader},
		{name: "b64 false (unencoded payload)", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1","b64":false,"crit":["b64"]}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrUnsupportedToken},
		{name: "JWE", header: bearer("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"), wantErr: authn.ErrUnsupportedToken},
		{name: "JWS JSON serialization", header: bearer(`{"payload":"` + parts[1] + `"}`), wantErr: authn.ErrMalformedToken},
		{name: "nested JWT", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1","cty":"JWT"}`, `"`+valid+`"`)), wantErr: authn.ErrUnsupportedToken},
		{name: "oversize", header: bearer(strings.Repeat("a", 9000) + "." + parts[1] + "." + parts[2]), wantErr: authn.ErrTokenTooLarge},
		{name: "many dots", header: bearer(valid + ".x.y"), wantErr: authn.ErrUnsupportedToken},
		{name: "three dots", header: bearer(valid + ".x"), wantErr: authn.ErrMalformedToken},
		{name: "trailing junk after a space", header: http.Header{"Authorization": {"Bearer " + valid + " junk"}}, wantErr: authn.ErrMalformedToken},
		{name: "padding in a part", header: bearer(parts[0] + "=." + parts[1] + "." + parts[2]), wantErr: authn.ErrMalformedToken},
		{name: "tampered payload", header: bearer(parts[0] + "." + b64.EncodeToString([]byte(mustJSON(t, claims(func(m map[string]any) { m["sub"] = "admin" })))) + "." + parts[2]), wantErr: authn.ErrSignature},

		{name: "exp missing", header: bearer(sign(t, es, claims(func(m map[string]any) { delete(m, "exp") }))), wantErr: authn.ErrMissingClaim},
		{name: "exp as a string", header: bearer(sign(t, es, claims(func(m map[string]any) { m["exp"] = fmt.Sprint(t0.Add(time.Hour).Unix()) }))), wantErr: authn.ErrMissingClaim},
		{name: "exp as a date string", header: bearer(sign(t, es, claims(func(m map[string]any) { m["exp"] = "2099-01-01T00:00:00Z" }))), wantErr: authn.ErrMissingClaim},
		{name: "expired", header: bearer(sign(t, es, claims(func(m map[string]any) { m["exp"] = t0.Add(-time.Second).Unix() }))), wantErr: authn.ErrTokenExpired},
		{name: "nbf in the future", header: bearer(sign(t, es, claims(func(m map[string]any) { m["nbf"] = t0.Add(time.Minute).Unix() }))), wantErr: authn.ErrTokenNotYetValid},
		{name: "iat in the future", header: bearer(sign(t, es, claims(func(m map[string]any) { m["iat"] = t0.Add(time.Minute).Unix() }))), wantErr: authn.ErrIssuedInFuture},
		{name: "lifetime too long", header: bearer(sign(t, es, claims(func(m map[string]any) { m["exp"] = t0.Add(48 * time.Hour).Unix() }))), wantErr: authn.ErrLifetimeTooLong},
		{name: "wrong iss", header: bearer(sign(t, es, claims(func(m map[string]any) { m["iss"] = "https://evil.example/" }))), wantErr: authn.ErrUnknownIssuer},
		{name: "iss without the trailing slash", header: bearer(sign(t, es, claims(func(m map[string]any) { m["iss"] = strings.TrimSuffix(iss, "/") }))), wantErr: authn.ErrUnknownIssuer},
		{name: "wrong aud", header: bearer(sign(t, es, claims(func(m map[string]any) { m["aud"] = "https://other.example" }))), wantErr: authn.ErrAudience},
		{name: "aud array without a match", header: bearer(sign(t, es, claims(func(m map[string]any) { m["aud"] = []string{"a", "b"} }))), wantErr: authn.ErrAudience},
		{name: "aud array with a match", header: bearer(sign(t, es, claims(func(m map[string]any) { m["aud"] = []string{"a", audience} })))},
		{name: "no sub", header: bearer(sign(t, es, claims(func(m map[string]any) { delete(m, "sub") }))), wantErr: authn.ErrMissingClaim},
		{name: "ID token instead of an access token", header: bearer(sign(t, es, claims(func(m map[string]any) { m["nonce"] = "n-0S6_WzA2Mj" }))), wantErr: authn.ErrIDTokenNotAccepted},
		{name: "typ of another kind of JWT", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1","typ":"dpop+jwt"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrWrongType},
		{name: "typ JWT accepted by default", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1","typ":"JWT"}`, mustJSON(t, claims(nil))))},
		{name: "duplicate exp", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1"}`, strings.Replace(mustJSON(t, claims(nil)), `"exp":`, `"exp":9999999999,"exp":`, 1))), wantErr: authn.ErrMalformedToken},
		{name: "exp spelt EXP", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1"}`, strings.Replace(mustJSON(t, claims(nil)), `"exp":`, `"EXP":`, 1))), wantErr: authn.ErrMalformedToken},
		{name: "escaped duplicate of exp", header: bearer(signRaw(t, es, `{"alg":"ES256","kid":"es-1"}`, strings.Replace(mustJSON(t, claims(nil)), `"exp":`, `"\u0065xp":9999999999,"exp":`, 1))), wantErr: authn.ErrMalformedToken},
		{name: "duplicate alg in the header", header: bearer(signRaw(t, es, `{"alg":"none","alg":"ES256","kid":"es-1"}`, mustJSON(t, claims(nil)))), wantErr: authn.ErrMalformedToken},
		{name: "key from another issuer", header: bearer(sign(t, other.keys[0], claims(func(m map[string]any) {}))), wantErr: authn.ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1?"+tt.query, nil)
			r.Header = tt.header
			_, err := a.Authenticate(r)
			if tt.wantErr == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.wantErr)
			}

			reached := false
			h := a.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, tt.wantErr == nil, reached, "handler reached")
			if tt.wantErr == nil {
				return
			}
			body, _ := io.ReadAll(rec.Body)
			wantStatus, wantChallenge := http.StatusUnauthorized, `Bearer error="invalid_token"`
			switch {
			case errors.Is(tt.wantErr, authn.ErrTokenInQuery), errors.Is(tt.wantErr, authn.ErrMultipleCredentials):
				wantStatus, wantChallenge = http.StatusBadRequest, `Bearer error="invalid_request"`
			case errors.Is(tt.wantErr, authn.ErrNoCredentials), errors.Is(tt.wantErr, authn.ErrUnsupportedScheme):
				wantChallenge = "Bearer"
			}
			assert.Equal(t, wantStatus, rec.Code)
			assert.Equal(t, wantChallenge, rec.Header().Get("WWW-Authenticate"))
			assert.NotContains(t, string(body), "canary-subject-7", "claim echoed")
			for _, part := range parts {
				assert.NotContains(t, string(body), part, "token echoed")
			}
		})
	}
}

// TestManyMembersCostLittle: an object of thousands of members, which would make the
// duplicate-name check quadratic, is refused by its member count.
func TestManyMembersCostLittle(t *testing.T) {
	es := newES256(t, "es-1")
	f := newFakeIssuer(t, es)
	a := newAuth(t, f, &clock{now: t0}, nil)
	m := claimsAt(f.issuer(), t0)
	for i := range 3000 {
		m[fmt.Sprintf("c%d", i)] = 1
	}
	_, err := authenticate(a, sign(t, es, m))
	require.ErrorIs(t, err, authn.ErrTokenTooLarge, "a 3000-claim token exceeds the size cap first")
	a2, err := authn.New(authn.Config{Issuers: []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}}},
		HTTPClient: f.srv.Client(), Now: func() time.Time { return t0 }, MaxTokenBytes: 64 << 10})
	require.NoError(t, err)
	_, err = authenticate(a2, sign(t, es, m))
	require.ErrorIs(t, err, authn.ErrMalformedToken)
}
