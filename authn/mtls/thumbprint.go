package mtls

import (
	"crypto/x509"

	"github.com/phikit/phikit/internal/x5t"
)

// Thumbprint returns the RFC 8705 "x5t#S256" confirmation of cert: the base64url encoding,
// without padding, of the SHA-256 of its DER encoding (cert.Raw). A certificate-bound
// access token carries it as cnf["x5t#S256"]; compare the two with crypto/subtle or as
// plain strings (neither is secret). It returns "" for a nil certificate.
func Thumbprint(cert *x509.Certificate) string {
	return x5t.S256(cert)
}
