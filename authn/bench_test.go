package authn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn"
)

// BenchmarkVerify compares, for each algorithm, the raw signature check of a token
// (hash and verify with the standard library, the floor any verifier pays), the whole
// Authenticate on first sight (cache off), and Authenticate on a token seen before.
func BenchmarkVerify(b *testing.B) {
	for _, k := range []*testKey{newES256(b, "es-1"), newRS256(b, "rs-1"), newEdDSA(b, "ed-1")} {
		f := newFakeIssuer(b, k)
		c := &clock{now: t0}
		token := sign(b, k, claimsAt(f.issuer(), t0))
		dot := strings.LastIndexByte(token, '.')
		input := []byte(token[:dot])
		sig, _ := b64.DecodeString(token[dot+1:])

		b.Run(k.alg+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			switch pub := k.priv.Public().(type) {
			case *ecdsa.PublicKey:
				r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
				for b.Loop() {
					d := sha256.Sum256(input)
					if !ecdsa.Verify(pub, d[:], r, s) {
						b.Fatal("bad signature")
					}
				}
			case *rsa.PublicKey:
				for b.Loop() {
					d := sha256.Sum256(input)
					if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
						b.Fatal("bad signature")
					}
				}
			case ed25519.PublicKey:
				for b.Loop() {
					if !ed25519.Verify(pub, input, sig) {
						b.Fatal("bad signature")
					}
				}
			}
		})
		for _, mode := range []struct {
			name  string
			cache int
		}{{"first-sight", -1}, {"cached", 0}} {
			b.Run(k.alg+"/"+mode.name, func(b *testing.B) {
				a, err := authn.New(authn.Config{
					Issuers:    []authn.IssuerConfig{{Issuer: f.issuer(), Audiences: []string{audience}, Algorithms: []string{k.alg}}},
					HTTPClient: f.srv.Client(), Now: c.Now, CacheSize: mode.cache,
				})
				if err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				if _, err := a.Authenticate(r); err != nil { // fetch the keys outside the loop
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkHandler measures the middleware around a bare handler with a cached token:
// what an authenticated request costs once its token has been seen.
func BenchmarkHandler(b *testing.B) {
	k := newES256(b, "es-1")
	f := newFakeIssuer(b, k)
	c := &clock{now: t0}
	a := newAuth(b, f, c, nil)
	r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
	r.Header.Set("Authorization", "Bearer "+sign(b, k, claimsAt(f.issuer(), t0)))
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"authn-cached", a.Handler(bare)}} {
		b.Run(h.name, func(b *testing.B) {
			w := httptest.NewRecorder()
			h.h.ServeHTTP(w, r)
			b.ReportAllocs()
			for b.Loop() {
				h.h.ServeHTTP(w, r)
			}
		})
	}
}
