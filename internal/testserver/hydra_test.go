package testserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	smokeAudience = "https://fhir.example.test"
)

var smokeScopes = []string{"patient/*.rs", "system/Observation.rs"}

func TestHydraSmoke(t *testing.T) {
	t.Parallel()

	h := Hydra(t)
	require.Regexp(t, regexp.MustCompile(`^http://127\.0\.0\.1:\d+/$`), h.PublicURL)
	require.Regexp(t, regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`), h.AdminURL)
	require.Equal(t, h.PublicURL, h.Issuer)
	require.NotEqual(t, strings.TrimSuffix(h.PublicURL, "/"), h.AdminURL)

	id, secret := h.CreateClient(t, HydraClient{Scopes: smokeScopes, Audience: []string{smokeAudience}})
	require.NotEmpty(t, id)
	require.NotEmpty(t, secret)

	before := time.Now().Unix()
	tok := h.Token(t, id, secret, smokeScopes, []string{smokeAudience})
	header, claims := decodeJWT(t, tok)
	t.Logf("access token header %v, claims %v", header, claims)

	require.Equal(t, "JWT", header["typ"])
	require.Equal(t, "RS256", header["alg"], "hydra's default access-token key is RS256")
	require.Equal(t, h.Issuer, claims["iss"])
	require.Contains(t, claims["aud"], smokeAudience)
	require.Equal(t, id, claims["client_id"])
	require.Equal(t, id, claims["sub"])
	require.ElementsMatch(t, smokeScopes, claims["scp"], "scp must be the granted scopes")
	require.Contains(t, claims, "scope", "STRATEGIES_JWT_SCOPE_CLAIM=both adds the scope string")
	require.ElementsMatch(t, smokeScopes, strings.Fields(claims["scope"].(string)))
	require.NotEmpty(t, claims["jti"])
	iat, exp := claims["iat"].(float64), claims["exp"].(float64)
	require.InDelta(t, float64(before), iat, 60)
	require.InDelta(t, 3600, exp-iat, 2, "TTL_ACCESS_TOKEN=1h")

	jwks := fetchJWKS(t, h)
	require.NotEmpty(t, jwks, "the public JWKS has no keys")
	verifyJWT(t, tok, jwks)

	// A scope the client was not granted, a wrong secret, and an unknown key id fail.
	f := callFake(func(f *fakeHydraTB) { h.Token(f, id, secret, []string{"user/*.cruds"}, nil) })
	require.True(t, f.failed, "a scope the client may not request must fail Token")
	require.Contains(t, f.msg, "invalid_scope")
	f = callFake(func(f *fakeHydraTB) { h.Token(f, id, secret+"x", smokeScopes, nil) })
	require.True(t, f.failed, "a wrong secret must fail Token")
	require.Contains(t, f.msg, "invalid_client")
	forged := strings.Replace(tok, strings.Split(tok, ".")[1],
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`)), 1)
	require.Error(t, checkJWTSignature(forged, jwks), "a token with a changed payload must not verify")

	// A client that authenticates with client_secret_post.
	postID, postSecret := h.CreateClient(t, HydraClient{
		Scopes:                  []string{"system/*.rs"},
		TokenEndpointAuthMethod: "client_secret_post",
	})
	_, postClaims := decodeJWT(t, h.Token(t, postID, postSecret, []string{"system/*.rs"}, nil))
	require.Equal(t, postID, postClaims["client_id"])
	require.ElementsMatch(t, []string{"system/*.rs"}, postClaims["scp"])

	// Introspection reports the token active, with its scopes and client.
	active := introspect(t, h, tok)
	require.Equal(t, true, active["active"], "%v", active)
	require.Equal(t, id, active["client_id"])
	require.Equal(t, h.Issuer, active["iss"])
	require.ElementsMatch(t, smokeScopes, strings.Fields(active["scope"].(string)))

	// A new ES256 key in the access-token set signs the tokens issued after it.
	h.CreateKey(t, "ES256", "es-1")
	tok2 := h.Token(t, id, secret, smokeScopes, []string{smokeAudience})
	header2, claims2 := decodeJWT(t, tok2)
	require.Equal(t, "ES256", header2["alg"])
	require.Equal(t, "es-1", header2["kid"])
	require.Equal(t, h.Issuer, claims2["iss"])
	jwks = fetchJWKS(t, h)
	require.Contains(t, jwks, "es-1")
	require.Equal(t, "EC", jwks["es-1"]["kty"])
	require.Equal(t, "P-256", jwks["es-1"]["crv"])
	require.Contains(t, jwks, header["kid"], "the older RS256 key must stay in the JWKS")
	for kid, k := range jwks {
		require.NotContains(t, k, "d", "the public JWKS exposes private key %q", kid)
	}
	verifyJWT(t, tok2, jwks)
	verifyJWT(t, tok, jwks)
	// Hydra introspects a JWT against the current signing key only: after the rotation
	// the RS256 token is reported inactive, though it still verifies offline.
	require.Equal(t, map[string]any{"active": false}, introspect(t, h, tok),
		"hydra's introspection of tokens signed with an older key changed; update the CreateKey doc")

	// Revocation shows in introspection, though the JWT still verifies offline.
	tok3 := h.Token(t, id, secret, smokeScopes, []string{smokeAudience})
	require.Equal(t, true, introspect(t, h, tok2)["active"])
	h.Revoke(t, id, secret, tok2)
	require.Equal(t, map[string]any{"active": false}, introspect(t, h, tok2))
	require.Equal(t, true, introspect(t, h, tok3)["active"], "revoking one token must not revoke another")
	verifyJWT(t, tok2, jwks)

	// Hydra is stopped when the test that started it ends.
	var stopped *HydraServer
	t.Run("stopped at cleanup", func(t *testing.T) {
		stopped = Hydra(t)
		require.NotEqual(t, h.PublicURL, stopped.PublicURL)
		resp, err := http.Get(stopped.AdminURL + "/health/alive")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	})
	if !t.Failed() {
		for _, u := range []string{stopped.AdminURL + "/health/alive", stopped.PublicURL + "health/alive"} {
			resp, err := (&http.Client{Timeout: time.Second}).Get(u)
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err, "hydra still answers at %s after its test ended", u)
		}
	}
}

func TestFindHydra(t *testing.T) {
	cache, home := t.TempDir(), t.TempDir()
	t.Setenv("PATH", t.TempDir())
	t.Setenv("PHIKIT_CACHE", cache)
	t.Setenv("HOME", home)

	find := func() (*fakeTB, string) {
		f := &fakeTB{}
		var path string
		done := make(chan struct{})
		go func() {
			defer close(done)
			path = findHydra(f)
		}()
		<-done
		return f, path
	}
	install := func(dir string) string {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p := filepath.Join(dir, "hydra")
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
		return p
	}

	t.Setenv(integrationEnv, "")
	f, path := find()
	require.True(t, f.skipped, "a missing hydra must skip the test")
	require.Empty(t, path)
	require.Contains(t, f.msg, "bash scripts/test.sh")
	t.Setenv(integrationEnv, "1")
	f, _ = find()
	require.True(t, f.failed, "with PHIKIT_INTEGRATION=1 a missing hydra must fail the test")

	homeBin := install(filepath.Join(home, ".cache", "phikit", "bin"))
	f, path = find()
	require.False(t, f.skipped || f.failed)
	require.Equal(t, homeBin, path)

	cacheBin := install(filepath.Join(cache, "bin"))
	_, path = find()
	require.Equal(t, cacheBin, path, "$PHIKIT_CACHE/bin comes before ~/.cache/phikit/bin")

	pathDir := t.TempDir()
	pathBin := install(pathDir)
	t.Setenv("PATH", pathDir)
	_, path = find()
	require.Equal(t, pathBin, path, "PATH comes first")
}

// fakeHydraTB records how a HydraServer method fails the test. Fatalf ends the calling
// goroutine, as the testing package's does.
type fakeHydraTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeHydraTB) Helper()                  {}
func (f *fakeHydraTB) Context() context.Context { return context.Background() }

func (f *fakeHydraTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// callFake runs fn with a fakeHydraTB in its own goroutine and returns the fake.
func callFake(fn func(*fakeHydraTB)) *fakeHydraTB {
	f := &fakeHydraTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

// decodeJWT splits a compact JWS into its decoded header and payload.
func decodeJWT(t *testing.T, token string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "a JWT has three dot-separated parts: %q", token)
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err, "JWT part %d is not base64url", i)
		require.NoError(t, json.Unmarshal(raw, dst), "JWT part %d is not a JSON object: %s", i, raw)
	}
	return header, claims
}

// fetchJWKS gets the public JWKS and returns its keys by kid.
func fetchJWKS(t *testing.T, h *HydraServer) map[string]map[string]any {
	t.Helper()
	resp, err := http.Get(h.PublicURL + ".well-known/jwks.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(body, &set))
	keys := map[string]map[string]any{}
	for _, k := range set.Keys {
		kid, _ := k["kid"].(string)
		require.NotEmpty(t, kid, "a JWKS key has no kid: %v", k)
		require.Equal(t, "sig", k["use"])
		keys[kid] = k
	}
	return keys
}

// verifyJWT checks the token's signature with the JWKS key its header names.
func verifyJWT(t *testing.T, token string, jwks map[string]map[string]any) {
	t.Helper()
	require.NoError(t, checkJWTSignature(token, jwks))
}

// checkJWTSignature verifies an RS256 or ES256 compact JWS with the JWKS key named by
// its kid.
func checkJWTSignature(token string, jwks map[string]map[string]any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("%d parts, want 3", len(parts))
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	var header struct{ Alg, Kid string }
	if err := json.Unmarshal(rawHeader, &header); err != nil {
		return err
	}
	key, ok := jwks[header.Kid]
	if !ok {
		return fmt.Errorf("kid %q is not in the JWKS", header.Kid)
	}
	if key["alg"] != header.Alg {
		return fmt.Errorf("header alg %s, key alg %v", header.Alg, key["alg"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	num := func(name string) (*big.Int, error) {
		s, _ := key[name].(string)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("key %s: bad %q", header.Kid, name)
		}
		return new(big.Int).SetBytes(b), nil
	}
	switch header.Alg {
	case "RS256":
		n, err := num("n")
		if err != nil {
			return err
		}
		e, err := num("e")
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(&rsa.PublicKey{N: n, E: int(e.Int64())}, crypto.SHA256, digest[:], sig)
	case "ES256":
		x, err := num("x")
		if err != nil {
			return err
		}
		y, err := num("y")
		if err != nil {
			return err
		}
		if len(sig) != 64 {
			return fmt.Errorf("ES256 signature has %d bytes, want 64", len(sig))
		}
		point := make([]byte, 65)
		point[0] = 4 // uncompressed
		x.FillBytes(point[1:33])
		y.FillBytes(point[33:])
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return fmt.Errorf("key %s: %w", header.Kid, err)
		}
		if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return fmt.Errorf("ES256 signature does not verify")
		}
		return nil
	default:
		return fmt.Errorf("unexpected alg %q", header.Alg)
	}
}

// introspect asks the admin API about token and returns the answer.
func introspect(t *testing.T, h *HydraServer, token string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(h.AdminURL+"/admin/oauth2/introspect", url.Values{"token": {token}})
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	return out
}
