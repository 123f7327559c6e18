package idempotency

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// errOpen is the one error AESGCM.Open returns, whatever failed: it says nothing about why.
var errOpen = errors.New("idempotency: cannot open sealed response")

// AESGCM is a [Sealer] with AES-256-GCM under one key held in memory: each Seal draws a
// random 96-bit nonce from crypto/rand and prepends it to the ciphertext. It is safe for
// concurrent use. Use it until package crypto's envelope AEAD (with key rotation) is
// wired; with one key, rotating it makes the stored responses unreadable, which the
// middleware answers with a 500 until they expire.
type AESGCM struct {
	aead cipher.AEAD
}

var _ Sealer = (*AESGCM)(nil)

// NewAESGCM returns a Sealer with AES-256-GCM under key, which must be 32 bytes from a
// cryptographically secure source. The key is copied into the cipher; the caller may
// clear its slice. With random nonces, one key should seal fewer than 2^32 responses.
func NewAESGCM(key []byte) (*AESGCM, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("idempotency: AES-256-GCM needs a 32-byte key: %w", ErrInvalidConfig)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("idempotency: AES-256-GCM: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("idempotency: AES-256-GCM: %w", err)
	}
	return &AESGCM{aead: aead}, nil
}

// Seal encrypts plaintext bound to additionalData and returns nonce || ciphertext || tag.
func (s *AESGCM) Seal(plaintext, additionalData []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, ns, ns+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("idempotency: nonce: %w", err)
	}
	return s.aead.Seal(out, out, plaintext, additionalData), nil
}

// Open decrypts what Seal returned for the same additionalData; any other input (another
// key, another record, a modified byte) gives an error that says nothing more.
func (s *AESGCM) Open(ciphertext, additionalData []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(ciphertext) < ns+s.aead.Overhead() {
		return nil, errOpen
	}
	p, err := s.aead.Open(nil, ciphertext[:ns], ciphertext[ns:], additionalData)
	if err != nil {
		return nil, errOpen
	}
	return p, nil
}
