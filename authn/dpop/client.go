package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// NewProof makes a DPoP proof, the value of a DPoP request header, for a request with
// the given method and target URI (htu, without query or fragment), signed by key at
// time now with a random jti. accessToken, when not empty, is hashed into ath; nonce,
// when not empty, is the server's latest DPoP-Nonce.
//
// key may be an ECDSA P-256 key (ES256), an Ed25519 key (EdDSA) or an RSA key (RS256).
// NewProof is for clients and tests: servers only verify proofs.
func NewProof(key crypto.Signer, method, htu, accessToken, nonce string, now time.Time) (string, error) {
	if key == nil {
		return "", errors.New("dpop: NewProof: no key")
	}
	pub := key.Public()
	alg, jwkJSON, err := publicJWK(pub)
	if err != nil {
		return "", err
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	header, err := json.Marshal(struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}{"dpop+jwt", alg, jwkJSON})
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	claims := struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath,omitempty"`
		Nonce string `json:"nonce,omitempty"`
	}{base64.RawURLEncoding.EncodeToString(id[:]), method, htu, now.Unix(), "", nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims.ATH = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := sign(key, pub, []byte(input))
	if err != nil {
		return "", fmt.Errorf("dpop: NewProof: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// publicJWK returns the algorithm NewProof signs with for pub and pub's JWK, with the
// members in RFC 7638 order.
func publicJWK(pub crypto.PublicKey) (string, []byte, error) {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", nil, errors.New("dpop: NewProof: ECDSA keys must be on P-256")
		}
		point, err := pub.Bytes() // 0x04 || X || Y
		if err != nil {
			return "", nil, fmt.Errorf("dpop: NewProof: %w", err)
		}
		return "ES256", fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, enc(point[1:33]), enc(point[33:])), nil
	case ed25519.PublicKey:
		return "EdDSA", fmt.Appendf(nil, `{"crv":"Ed25519","kty":"OKP","x":%q}`, enc(pub)), nil
	case *rsa.PublicKey:
		e := big.NewInt(int64(pub.E)).Bytes()
		return "RS256", fmt.Appendf(nil, `{"e":%q,"kty":"RSA","n":%q}`, enc(e), enc(pub.N.Bytes())), nil
	}
	return "", nil, fmt.Errorf("dpop: NewProof: unsupported key type %T", pub)
}

func sign(key crypto.Signer, pub crypto.PublicKey, input []byte) ([]byte, error) {
	switch pub.(type) {
	case ed25519.PublicKey:
		return key.Sign(rand.Reader, input, crypto.Hash(0))
	case *rsa.PublicKey:
		sum := sha256.Sum256(input)
		return key.Sign(rand.Reader, sum[:], crypto.SHA256)
	}
	sum := sha256.Sum256(input)
	der, err := key.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 ||
		rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 256 || rs.S.BitLen() > 256 {
		return nil, errors.New("ECDSA signer returned a malformed signature")
	}
	sig := make([]byte, 64)
	rs.R.FillBytes(sig[:32])
	rs.S.FillBytes(sig[32:])
	return sig, nil
}

// Thumbprint returns the base64url RFC 7638 SHA-256 thumbprint of a public key (ECDSA,
// RSA or Ed25519; a private key's thumbprint is its public key's): the jkt an authorization server puts in the cnf claim of a token bound
// to that key, and the Proof.JKT of proofs it signs.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	key, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("dpop: thumbprint: %w", err)
	}
	return thumbprint(key)
}
