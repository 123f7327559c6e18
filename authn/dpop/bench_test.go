package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn/dpop"
)

// BenchmarkVerify measures Verify of an ES256 proof with a memory replay store beside
// the floor any verifier pays: hashing the signing input and one ecdsa.Verify.
func BenchmarkVerify(b *testing.B) {
	k := keys(b)
	c := &clock{now: t0}
	const n = 1024 // distinct proofs, since each is accepted once
	proofs := make([]string, n)
	for i := range proofs {
		proofs[i] = defaultParts(b, "bench-"+itoa(int64(i))+"-KZ3xTkQ1hX8yR5b2cN7dWg").encode(b)
	}

	b.Run("raw-ecdsa", func(b *testing.B) {
		dot := strings.LastIndexByte(proofs[0], '.')
		input := []byte(proofs[0][:dot])
		sig := decode(b, proofs[0][dot+1:])
		pub := &k.es.PublicKey
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		b.ReportAllocs()
		for b.Loop() {
			d := sha256.Sum256(input)
			if !ecdsa.Verify(pub, d[:], r, s) {
				b.Fatal("bad signature")
			}
		}
	})

	b.Run("Verify-ES256", func(b *testing.B) {
		reqs := make([]*http.Request, n)
		for i := range reqs {
			reqs[i] = request(http.MethodGet, requestURL, proofs[i])
		}
		ctx := context.Background()
		var v *dpop.Verifier
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%n == 0 { // a fresh store, so every proof is new again
				v = newVerifier(b, c, nil)
			}
			if _, err := v.Verify(ctx, reqs[i%n], testToken); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})

	b.Run("refused-garbage", func(b *testing.B) {
		v := newVerifier(b, c, nil)
		r := request(http.MethodGet, requestURL, "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.e30.AAAA")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(context.Background(), r, testToken); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

func decode(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := rawURL.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
