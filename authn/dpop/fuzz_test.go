package dpop_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn/dpop"
)

// FuzzVerify feeds arbitrary DPoP header values to a verifier: it must never panic,
// never accept a proof whose header and claims are not those of a valid seed, and always
// answer with one of its own errors.
//
// A proof carries its own key, so any correctly signed proof would be valid: the seeds
// are signed with fixed keys, making the valid signing inputs the same in every fuzzing
// worker process.
func FuzzVerify(f *testing.F) {
	es, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		f.Fatal(err)
	}
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0x42}, ed25519.SeedSize))
	c := &clock{now: t0}
	v := newVerifier(f, c, nil)
	valid := map[string]bool{} // signing inputs
	for _, p := range []*proofParts{
		defaultParts(f, "fuzz-es").withKey(f, "ES256", es),
		defaultParts(f, "fuzz-ed").withKey(f, "EdDSA", ed),
	} {
		s := p.encode(f)
		valid[s[:strings.LastIndexByte(s, '.')]] = true
		f.Add(s)
		f.Add(s + "x")
		f.Add(strings.Replace(s, ".", "..", 1))
	}
	bad := defaultParts(f, "fuzz-bad").withKey(f, "ES256", es)
	bad.header["jwk"] = jwkOf(f, es)
	f.Add(bad.encode(f))
	for _, s := range []string{"", ".", "..", "a.b.c", "e30.e30.e30", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA",
		`{"payload":"e30"}`, "a.b.c.d.e", strings.Repeat("A", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, proof string) {
		r := request(http.MethodGet, requestURL, "")
		r.Header["Dpop"] = []string{proof}
		p, err := v.Verify(context.Background(), r, testToken)
		if err == nil {
			if dot := strings.LastIndexByte(proof, '.'); dot < 0 || !valid[proof[:dot]] {
				t.Fatalf("accepted %q as %+v", proof, p)
			}
			return
		}
		var de *dpop.Error
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not a *dpop.Error", err)
		}
	})
}
