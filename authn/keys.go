package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"math/big"
)

// algorithm describes one JWS signature algorithm phikit verifies.
type algorithm struct {
	name  string
	hash  crypto.Hash // zero for EdDSA
	kind  keyKind
	curve elliptic.Curve // ECDSA only
	pss   bool           // RSA only
}

type keyKind int

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindEd25519
)

// algorithmByName returns the asymmetric algorithm called name. HMAC algorithms and
// "none" are not among them: phikit's issuers sign with public keys only.
func algorithmByName(name string) (*algorithm, bool) {
	switch name {
	case "RS256":
		return &algorithm{name: name, hash: crypto.SHA256, kind: kindRSA}, true
	case "RS384":
		return &algorithm{name: name, hash: crypto.SHA384, kind: kindRSA}, true
	case "RS512":
		return &algorithm{name: name, hash: crypto.SHA512, kind: kindRSA}, true
	case "PS256":
		return &algorithm{name: name, hash: crypto.SHA256, kind: kindRSA, pss: true}, true
	case "PS384":
		return &algorithm{name: name, hash: crypto.SHA384, kind: kindRSA, pss: true}, true
	case "PS512":
		return &algorithm{name: name, hash: crypto.SHA512, kind: kindRSA, pss: true}, true
	case "ES256":
		return &algorithm{name: name, hash: crypto.SHA256, kind: kindEC, curve: elliptic.P256()}, true
	case "ES384":
		return &algorithm{name: name, hash: crypto.SHA384, kind: kindEC, curve: elliptic.P384()}, true
	case "ES512":
		return &algorithm{name: name, hash: crypto.SHA512, kind: kindEC, curve: elliptic.P521()}, true
	case "EdDSA", "Ed25519":
		return &algorithm{name: name, kind: kindEd25519}, true
	}
	return nil, false
}

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
func (k *publicKey) fits(a *algorithm) bool {
	if k.alg != "" && k.alg != a.name {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return a.kind == kindRSA
	case *ecdsa.PublicKey:
		return a.kind == kindEC && pub.Curve == a.curve
	case ed25519.PublicKey:
		return a.kind == kindEd25519
	}
	return false
}

// verify checks sig over signingInput with k, which must fit a.
func (k *publicKey) verify(a *algorithm, signingInput, sig []byte) bool {
	if a.kind == kindEd25519 {
		pub, ok := k.pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, signingInput, sig)
	}
	var digest [64]byte
	h := newHash(a.hash)
	h.Write(signingInput)
	d := h.Sum(digest[:0])
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if a.pss {
			return rsa.VerifyPSS(pub, a.hash, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, a.hash, d, sig) == nil
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pub, d, r, s)
	}
	return false
}

func newHash(h crypto.Hash) hash.Hash {
	switch h {
	case crypto.SHA384:
		return sha512.New384()
	case crypto.SHA512:
		return sha512.New()
	default:
		return sha256.New()
	}
}
