package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
)

// Thumbprint returns the RFC 8705 "x5t#S256" confirmation of cert: the base64url encoding,
// without padding, of the SHA-256 of its DER encoding (cert.Raw). A certificate-bound
// access token carries it as cnf["x5t#S256"]; compare the two with crypto/subtle or as
// plain strings (neither is secret). It returns "" for a nil certificate.
func Thumbprint(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
