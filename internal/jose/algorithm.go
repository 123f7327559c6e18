package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash.New
	_ "crypto/sha512" // registers SHA-384 and SHA-512
	"math/big"
)

// Algorithm is one asymmetric JWS signature algorithm (RFC 7518 §3, RFC 8037): RS256,
// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA. The zero value is not
// an algorithm; get one from AlgorithmByName. An Algorithm is immutable and safe for
// concurrent use.
type Algorithm struct {
	name  string
	hash  crypto.Hash // zero for EdDSA
	kind  keyKind
	curve elliptic.Curve // ECDSA only
	pss   bool           // RSA only
}

// keyKind is the type of public key an Algorithm verifies with.
type keyKind int

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindEd25519
)

// AlgorithmByName returns the asymmetric algorithm called name, as a JWS "alg" header
// names it ("Ed25519" is taken as EdDSA). HMAC algorithms and "none" are not among them:
// a name that is not an asymmetric algorithm returns nil and false.
func AlgorithmByName(name string) (*Algorithm, bool) {
	switch name {
	case "RS256":
		return &Algorithm{name: name, hash: crypto.SHA256, kind: kindRSA}, true
	case "RS384":
		return &Algorithm{name: name, hash: crypto.SHA384, kind: kindRSA}, true
	case "RS512":
		return &Algorithm{name: name, hash: crypto.SHA512, kind: kindRSA}, true
	case "PS256":
		return &Algorithm{name: name, hash: crypto.SHA256, kind: kindRSA, pss: true}, true
	case "PS384":
		return &Algorithm{name: name, hash: crypto.SHA384, kind: kindRSA, pss: true}, true
	case "PS512":
		return &Algorithm{name: name, hash: crypto.SHA512, kind: kindRSA, pss: true}, true
	case "ES256":
		return &Algorithm{name: name, hash: crypto.SHA256, kind: kindEC, curve: elliptic.P256()}, true
	case "ES384":
		return &Algorithm{name: name, hash: crypto.SHA384, kind: kindEC, curve: elliptic.P384()}, true
	case "ES512":
		return &Algorithm{name: name, hash: crypto.SHA512, kind: kindEC, curve: elliptic.P521()}, true
	case "EdDSA", "Ed25519":
		return &Algorithm{name: name, kind: kindEd25519}, true
	}
	return nil, false
}

// Name returns the name a was looked up by, as a JWS "alg" header names it.
func (a *Algorithm) Name() string { return a.name }

// Fits reports whether pub is a key a verifies with: an *rsa.PublicKey for RS* and PS*,
// an *ecdsa.PublicKey on the algorithm's curve for ES*, an ed25519.PublicKey for EdDSA.
// It does not look at the key's size: that is the caller's policy.
func (a *Algorithm) Fits(pub crypto.PublicKey) bool {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return a.kind == kindRSA
	case *ecdsa.PublicKey:
		return a.kind == kindEC && pub.Curve == a.curve
	case ed25519.PublicKey:
		// A short key would make ed25519.Verify panic.
		return a.kind == kindEd25519 && len(pub) == ed25519.PublicKeySize
	}
	return false
}

// Verify reports whether sig is a's signature over signingInput by pub. It is false when
// pub does not fit a (see Fits), and for an ECDSA signature that is not the JWS form:
// R || S, each as long as the curve's size, never ASN.1.
func (a *Algorithm) Verify(pub crypto.PublicKey, signingInput, sig []byte) bool {
	if !a.Fits(pub) {
		return false
	}
	if a.kind == kindEd25519 {
		return ed25519.Verify(pub.(ed25519.PublicKey), signingInput, sig)
	}
	var buf [64]byte
	h := a.hash.New()
	h.Write(signingInput)
	digest := h.Sum(buf[:0])
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if a.pss {
			return rsa.VerifyPSS(pub, a.hash, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, a.hash, digest, sig) == nil
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pub, digest, r, s)
	}
	return false
}
