// Package authntest is a token issuer for tests and local development: it makes an
// ES256 key, publishes it as a JWKS, and mints signed access tokens, so that a service
// wired with phikit's authn can be exercised without an identity provider.
//
//	iss, err := authntest.NewIssuer("http://127.0.0.1:8080/dev-issuer/")
//	mux.Handle("GET /dev-issuer/jwks.json", iss.JWKSHandler())
//	auth, err := authn.New(authn.Config{Issuers: []authn.IssuerConfig{{
//		Issuer: iss.URL(), JWKSURL: iss.URL() + "jwks.json", Audiences: []string{"api"},
//		Algorithms: []string{"ES256"}, InsecureAllowHTTP: authn.IsLoopbackURL(iss.URL()),
//	}}})
//	token, err := iss.Mint(map[string]any{"sub": "dr-7", "aud": "api", "scope": "user/*.rs"})
//
// # Security considerations
//
// Development only. Anyone who can reach the service can read its JWKS, and anyone who
// holds a minted token is whoever it says. The private key lives in memory and dies with
// the process. Never trust a development issuer in production configuration.
package authntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Issuer mints ES256 access tokens under one fresh key. It is safe for concurrent use.
type Issuer struct {
	url  string
	key  jwk.Key // private
	jwks []byte  // the public key set, served by JWKSHandler
	now  func() time.Time
}

// NewIssuer returns an issuer whose iss is issuerURL, with a new P-256 key.
func NewIssuer(issuerURL string) (*Issuer, error) {
	return NewIssuerAt(issuerURL, time.Now)
}

// NewIssuerAt is NewIssuer with a clock, for tests; nil means time.Now.
func NewIssuerAt(issuerURL string, now func() time.Time) (*Issuer, error) {
	if now == nil {
		now = time.Now
	}
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authntest: generate key: %w", err)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("authntest: %w", err)
	}
	kid := rand.Text()[:12]
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256, jwk.KeyUsageKey: "sig"} {
		if err := key.Set(k, v); err != nil {
			return nil, fmt.Errorf("authntest: %w", err)
		}
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("authntest: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, fmt.Errorf("authntest: %w", err)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("authntest: %w", err)
	}
	return &Issuer{url: issuerURL, key: key, jwks: jwks, now: now}, nil
}

// URL returns the issuer identifier (the iss of its tokens).
func (i *Issuer) URL() string { return i.url }

// JWKSHandler serves the issuer's public key set.
func (i *Issuer) JWKSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=300")
		_, _ = w.Write(i.jwks)
	})
}

// Mint signs an access token (header typ "at+jwt") with the given claims. It fills iss,
// iat and exp (one hour) and jti when claims leave them out; claims is not modified.
func (i *Issuer) Mint(claims map[string]any) (string, error) {
	now := i.now()
	c := map[string]any{
		"iss": i.url,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"jti": rand.Text(),
	}
	maps.Copy(c, claims)
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("authntest: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "at+jwt"); err != nil {
		return "", fmt.Errorf("authntest: %w", err)
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.ES256, i.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("authntest: sign: %w", err)
	}
	return string(tok), nil
}
