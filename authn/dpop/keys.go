package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/phikit/phikit/internal/jose"
)

// defaultAlgorithms are the algorithms accepted when Config.Algorithms is nil.
var defaultAlgorithms = [...]string{"ES256", "EdDSA", "RS256", "PS256"}

// RSA moduli outside [minRSABits, maxRSABits] are refused: small ones are weak, and a
// huge one, chosen by the client, would make the server pay for its verification.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// jwkNames are the JWK members read or refused; a member matching one of them but for
// case is refused (see jose.CheckObject).
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
func parseKey(raw json.RawMessage, a *jose.Algorithm) (jwk.Key, crypto.PublicKey, bool) {
	var m jwkMembers
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil || jose.CheckObject(raw, jwkNames, maxMembers) != nil {
		return nil, nil, false
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		return nil, nil, false
	}
	switch {
	case m.Kty != "EC" && m.Kty != "RSA" && m.Kty != "OKP": // never "oct"
		return nil, nil, false
	case m.Alg != "" && m.Alg != a.Name():
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
	if !a.Fits(pub) { // key type and curve
		return nil, nil, false
	}
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if _, err := pub.Bytes(); err != nil { // not a point on the curve
			return nil, nil, false
		}
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits || pub.N.BitLen() > maxRSABits {
			return nil, nil, false
		}
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return nil, nil, false
		}
	}
	return key, pub, true
}

// thumbprint returns the base64url RFC 7638 SHA-256 thumbprint of key.
func thumbprint(key jwk.Key) (string, error) {
	sum, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}
