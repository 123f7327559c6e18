package authn

import (
	"crypto"

	"github.com/phikit/phikit/internal/jose"
)

// minRSABits is the smallest RSA modulus accepted in a key set.
const minRSABits = 2048

// publicKey is one verified key of an issuer's key set.
type publicKey struct {
	kid string
	alg string // the key's own "alg", or "" when it does not name one
	pub crypto.PublicKey
}

// fits reports whether k may verify signatures made with a: same key type (and curve),
// and the key's own alg, when it names one, equal to a.
func (k *publicKey) fits(a *jose.Algorithm) bool {
	if k.alg != "" && k.alg != a.Name() {
		return false
	}
	return a.Fits(k.pub)
}
