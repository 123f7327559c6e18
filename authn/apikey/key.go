package apikey

import (
	"crypto/rand"
	"strings"
)

// Key format: phk_<env>_<id>_<secret>, all lowercase ASCII.
//
//	phk_live_k3vq7m2xw4ab_5tq2…(52 characters)…a
//
// env is 1 to 8 lowercase letters; id is 12 characters of the lowercase RFC 4648 base32
// alphabet (60 random bits), public, and the key's name in the store and in the audit
// trail; secret is 32 random bytes in unpadded lowercase base32 (52 characters, the last
// of which carries one bit and must be canonical: 'a' or 'q').
const (
	// Prefix starts every key, so that secret scanners and people can tell one.
	Prefix = "phk_"
	// MaxKeyBytes caps the header value, checked before anything else: longer values are
	// ErrMalformedKey. The longest well-formed key is 78 bytes.
	MaxKeyBytes = 128

	maxEnvLen = 8
	idLen     = 12
	secretRaw = 32
	secretLen = (secretRaw*8 + 4) / 5 // 52
)

// alphabet is RFC 4648 base32, lowercased.
const alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// parse checks key's syntax strictly and returns its environment and id. It reads nothing
// but key, allocates nothing, and is the only gate before the HMAC and the store.
func parse(key string) (env, id string, err error) {
	if len(key) > MaxKeyBytes {
		return "", "", ErrMalformedKey
	}
	rest, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return "", "", ErrMalformedKey
	}
	env, rest, ok = strings.Cut(rest, "_")
	if !ok || !validEnv(env) {
		return "", "", ErrMalformedKey
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || !validID(id) || !validSecret(secret) {
		return "", "", ErrMalformedKey
	}
	return env, id, nil
}

// validEnv reports whether s is 1 to 8 lowercase ASCII letters.
func validEnv(s string) bool {
	if s == "" || len(s) > maxEnvLen {
		return false
	}
	for i := range len(s) {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// validID reports whether s has the form of a key id.
func validID(s string) bool { return len(s) == idLen && inAlphabet(s) }

// validSecret reports whether s is the canonical encoding of a 32-byte secret: 52
// base32 characters whose last one has its four unused low bits zero.
func validSecret(s string) bool {
	if len(s) != secretLen || !inAlphabet(s) {
		return false
	}
	last := s[len(s)-1]
	return last == 'a' || last == 'q' // 0b00000 or 0b10000
}

func inAlphabet(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// newID returns a random key id: 12 base32 characters from crypto/rand.
func newID() string {
	var b [idLen]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	for i := range b {
		b[i] = alphabet[b[i]&31] // 256 is a multiple of 32: unbiased
	}
	return string(b[:])
}

// newSecret returns 32 bytes from crypto/rand in unpadded lowercase base32.
func newSecret() string {
	var raw [secretRaw]byte
	_, _ = rand.Read(raw[:])
	return encodeBase32(raw[:])
}

// encodeBase32 is RFC 4648 base32 without padding, in lowercase.
func encodeBase32(src []byte) string {
	var sb strings.Builder
	sb.Grow((len(src)*8 + 4) / 5)
	var buf uint64
	var bits uint
	for _, b := range src {
		buf = buf<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			sb.WriteByte(alphabet[(buf>>bits)&31])
		}
	}
	if bits > 0 {
		sb.WriteByte(alphabet[(buf<<(5-bits))&31])
	}
	return sb.String()
}

// IDOf returns the id of key, the public part that names it in the store, the audit
// trail and Revoke, without looking anything up. It is for operators holding a leaked
// key who need to revoke it. The error is ErrMalformedKey.
func IDOf(key string) (string, error) {
	_, id, err := parse(key)
	return id, err
}
