package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"math/big"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// algorithm is one asymmetric JWS signature algorithm a proof may use.
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

// defaultAlgorithms are the algorithms accepted when Config.Algorithms is nil.
var defaultAlgorithms = [...]string{"ES256", "EdDSA", "RS256", "PS256"}

// algorithmByName returns the asymmetric algorithm called name. "none" and the HMAC
// algorithms are not among them: a proof shows possession of a private key.
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

// RSA moduli outside [minRSABits, maxRSABits] are refused: small ones are weak, and a
// huge one, chosen by the client, would make the server pay for its verification.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// jwkNames are the JWK members read or refused; a member matching one of them but for
// case is refused (see checkObject).
var jwkNames = []string{"kty", "crv", "x", "y", "n", "e", "alg", "use", "key_ops", "kid",
	"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// jwkMembers are the members of a proof's jwk checked before the key is parsed.
type jwkMembers struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	// Private or symmetric key material: its presence refuses the key.
	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   json.RawMessage `json:"k"`
}

// parseKey parses the jwk header of a proof signed with a. It must be a public EC, RSA
// or Ed25519 key that fits a, without private members; its own alg, when it names one,
// must be a, and its use, when present, "sig".
func parseKey(raw json.RawMessage, a *algorithm) (jwk.Key, crypto.PublicKey, bool) {
	var m jwkMembers
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || !checkObject(raw, jwkNames) {
		return nil, nil, false
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		return nil, nil, false
	}
	switch {
	case m.Kty != "EC" && m.Kty != "RSA" && m.Kty != "OKP": // never "oct"
		return nil, nil, false
	case m.Alg != "" && m.Alg != a.name:
		return nil, nil, false
	case m.Use != "" && m.Use != "sig":
		return nil, nil, false
	}
	key, err := jwk.ParseKey(raw)
	if err != nil {
		return nil, nil, false
	}
	var pub any
	if key.Raw(&pub) != nil {
		return nil, nil, false
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if a.kind != kindEC || pub.Curve != a.curve {
			return nil, nil, false
		}
		if _, err := pub.Bytes(); err != nil { // not a point on the curve
			return nil, nil, false
		}
		return key, pub, true
	case *rsa.PublicKey:
		if a.kind != kindRSA || pub.N.BitLen() < minRSABits || pub.N.BitLen() > maxRSABits {
			return nil, nil, false
		}
		return key, pub, true
	case ed25519.PublicKey:
		if a.kind != kindEd25519 || len(pub) != ed25519.PublicKeySize {
			return nil, nil, false
		}
		return key, pub, true
	}
	return nil, nil, false
}

// verifySignature checks sig over signingInput with pub, which parseKey accepted for a.
func verifySignature(a *algorithm, pub crypto.PublicKey, signingInput, sig []byte) bool {
	if a.kind == kindEd25519 {
		pub, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(pub, signingInput, sig)
	}
	var buf [64]byte
	h := newHash(a.hash)
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
		if len(sig) != 2*size { // JWS: R || S, each of the curve's size; never ASN.1
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pub, digest, r, s)
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

// thumbprint returns the base64url RFC 7638 SHA-256 thumbprint of key.
func thumbprint(key jwk.Key) (string, error) {
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
