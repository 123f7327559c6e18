// Package x5t computes the RFC 8705 certificate thumbprint, the one way phikit's
// packages do it: authn checks a certificate-bound token's cnf against it, and
// authn/mtls puts it in the Principal it builds.
package x5t

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
)

// S256 returns the "x5t#S256" confirmation of cert (RFC 8705 §3.1): the base64url
// encoding, without padding, of the SHA-256 of its DER encoding (cert.Raw). It returns ""
// for a nil certificate.
func S256(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
