// Package revkey computes the key under which a token revocation (an issuer and a jti) is
// kept, the one way phikit's revocation stores do it: authn.MemoryRevocations keys its
// map with it, and authn/redisrevocation its Redis keys.
package revkey

import (
	"crypto/sha256"
	"encoding/binary"
)

// Sum returns the SHA-256 of the issuer's length (8 bytes, big-endian), the issuer and
// the jti: distinct pairs never share a key, however they are spelled, and the key has a
// fixed size whatever their length.
func Sum(issuer, jti string) [sha256.Size]byte {
	var buf [256]byte
	b := binary.BigEndian.AppendUint64(buf[:0], uint64(len(issuer)))
	b = append(b, issuer...)
	b = append(b, jti...)
	return sha256.Sum256(b)
}
