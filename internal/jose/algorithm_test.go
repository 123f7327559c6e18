package jose_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/phikit/phikit/internal/jose"
)

func TestAlgorithmByName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"RS256", true}, {"RS384", true}, {"RS512", true},
		{"PS256", true}, {"PS384", true}, {"PS512", true},
		{"ES256", true}, {"ES384", true}, {"ES512", true},
		{"EdDSA", true}, {"Ed25519", true},
		{"none", false}, {"None", false}, {"", false},
		{"HS256", false}, {"HS384", false}, {"HS512", false},
		{"es256", false}, {"ES256K", false}, {"RSA-OAEP", false}, {"dir", false},
	}
	for _, tt := range tests {
		a, ok := jose.AlgorithmByName(tt.name)
		if ok != tt.ok || (a != nil) != tt.ok {
			t.Errorf("AlgorithmByName(%q): got %v, %v, want ok %v", tt.name, a, ok, tt.ok)
			continue
		}
		if ok && a.Name() != tt.name {
			t.Errorf("AlgorithmByName(%q).Name(): got %q, want %q", tt.name, a.Name(), tt.name)
		}
	}
}

// signer makes JWS signatures for the tests.
type signer struct {
	priv crypto.Signer
	alg  string
}

func (s signer) sign(t *testing.T, input []byte) []byte {
	t.Helper()
	var (
		sig []byte
		err error
	)
	switch k := s.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input)
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		r, ss, err := ecdsa.Sign(rand.Reader, k, digest(s.alg, input))
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 2*size)
		r.FillBytes(sig[:size])
		ss.FillBytes(sig[size:])
		return sig
	case *rsa.PrivateKey:
		h := hashOf(s.alg)
		if s.alg[0] == 'P' {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest(s.alg, input), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest(s.alg, input))
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatalf("no signer for %T", s.priv)
	return nil
}

func hashOf(alg string) crypto.Hash {
	switch alg[len(alg)-3:] {
	case "384":
		return crypto.SHA384
	case "512":
		return crypto.SHA512
	}
	return crypto.SHA256
}

func digest(alg string, input []byte) []byte {
	switch hashOf(alg) {
	case crypto.SHA384:
		d := sha512.Sum384(input)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(input)
		return d[:]
	}
	d := sha256.Sum256(input)
	return d[:]
}

func TestFitsAndVerify(t *testing.T) {
	mustEC := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, p384, p521 := mustEC(elliptic.P256()), mustEC(elliptic.P384()), mustEC(elliptic.P521())
	input := []byte("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0")

	tests := []struct {
		name     string
		alg      string
		signer   signer           // makes the signature
		pub      crypto.PublicKey // verifies it
		tamper   func(input, sig []byte) ([]byte, []byte)
		fits     bool
		verified bool
	}{
		{name: "RS256", alg: "RS256", signer: signer{rsaKey, "RS256"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "RS384", alg: "RS384", signer: signer{rsaKey, "RS384"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "RS512", alg: "RS512", signer: signer{rsaKey, "RS512"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "PS256", alg: "PS256", signer: signer{rsaKey, "PS256"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "PS384", alg: "PS384", signer: signer{rsaKey, "PS384"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "PS512", alg: "PS512", signer: signer{rsaKey, "PS512"}, pub: &rsaKey.PublicKey, fits: true, verified: true},
		{name: "ES256", alg: "ES256", signer: signer{p256, "ES256"}, pub: &p256.PublicKey, fits: true, verified: true},
		{name: "ES384", alg: "ES384", signer: signer{p384, "ES384"}, pub: &p384.PublicKey, fits: true, verified: true},
		{name: "ES512", alg: "ES512", signer: signer{p521, "ES512"}, pub: &p521.PublicKey, fits: true, verified: true},
		{name: "EdDSA", alg: "EdDSA", signer: signer{edKey, "EdDSA"}, pub: edKey.Public(), fits: true, verified: true},
		{name: "Ed25519 alias", alg: "Ed25519", signer: signer{edKey, "EdDSA"}, pub: edKey.Public(), fits: true, verified: true},

		{name: "PKCS #1 v1.5 signature for PS256", alg: "PS256", signer: signer{rsaKey, "RS256"}, pub: &rsaKey.PublicKey, fits: true},
		{name: "PSS signature for RS256", alg: "RS256", signer: signer{rsaKey, "PS256"}, pub: &rsaKey.PublicKey, fits: true},
		{name: "RS384 signature for RS256", alg: "RS256", signer: signer{rsaKey, "RS384"}, pub: &rsaKey.PublicKey, fits: true},
		{name: "tampered input", alg: "ES256", signer: signer{p256, "ES256"}, pub: &p256.PublicKey, fits: true,
			tamper: func(in, sig []byte) ([]byte, []byte) { return append(in, 'x'), sig }},
		{name: "tampered signature", alg: "EdDSA", signer: signer{edKey, "EdDSA"}, pub: edKey.Public(), fits: true,
			tamper: func(in, sig []byte) ([]byte, []byte) { sig[0] ^= 1; return in, sig }},
		{name: "ECDSA signature one byte short", alg: "ES256", signer: signer{p256, "ES256"}, pub: &p256.PublicKey, fits: true,
			tamper: func(in, sig []byte) ([]byte, []byte) { return in, sig[:len(sig)-1] }},
		{name: "empty signature", alg: "RS256", signer: signer{rsaKey, "RS256"}, pub: &rsaKey.PublicKey, fits: true,
			tamper: func(in, sig []byte) ([]byte, []byte) { return in, nil }},

		{name: "P-384 key for ES256", alg: "ES256", signer: signer{p384, "ES256"}, pub: &p384.PublicKey},
		{name: "EC key for RS256", alg: "RS256", signer: signer{p256, "ES256"}, pub: &p256.PublicKey},
		{name: "RSA key for ES256", alg: "ES256", signer: signer{rsaKey, "RS256"}, pub: &rsaKey.PublicKey},
		{name: "Ed25519 key for ES256", alg: "ES256", signer: signer{edKey, "EdDSA"}, pub: edKey.Public()},
		{name: "EC key for EdDSA", alg: "EdDSA", signer: signer{p256, "ES256"}, pub: &p256.PublicKey},
		{name: "private key", alg: "EdDSA", signer: signer{edKey, "EdDSA"}, pub: edKey},
		{name: "ECDSA key by value", alg: "ES256", signer: signer{p256, "ES256"}, pub: p256.PublicKey},
		{name: "nil key", alg: "RS256", signer: signer{rsaKey, "RS256"}, pub: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := jose.AlgorithmByName(tt.alg)
			if !ok {
				t.Fatalf("AlgorithmByName(%q) failed", tt.alg)
			}
			if got := a.Fits(tt.pub); got != tt.fits {
				t.Errorf("Fits(%T): got %v, want %v", tt.pub, got, tt.fits)
			}
			in := append([]byte(nil), input...)
			sig := tt.signer.sign(t, in)
			if tt.tamper != nil {
				in, sig = tt.tamper(in, sig)
			}
			if got := a.Verify(tt.pub, in, sig); got != tt.verified {
				t.Errorf("Verify: got %v, want %v", got, tt.verified)
			}
		})
	}
}

func TestShortEd25519KeyDoesNotFit(t *testing.T) {
	a, ok := jose.AlgorithmByName("EdDSA")
	if !ok {
		t.Fatal("EdDSA unknown")
	}
	short := ed25519.PublicKey{1, 2, 3}
	if a.Fits(short) {
		t.Fatal("a 3-byte Ed25519 key fits")
	}
	if a.Verify(short, []byte("x"), make([]byte, ed25519.SignatureSize)) {
		t.Fatal("verified with a 3-byte key")
	}
}
