package mtls

import (
	"crypto/tls"
	"crypto/x509"
)

// TLSConfig returns a server TLS configuration for client-certificate authentication:
// TLS 1.2 or later, serverCert as the server's certificate, and client certificates
// requested and verified against roots during the handshake (ClientAuth
// tls.VerifyClientCertIfGiven, ClientCAs roots).
//
// A client that presents no certificate still connects, so that routes without mTLS
// (health checks, discovery documents, bearer-token routes) keep working; Handler and
// Authenticate refuse its requests (ErrNoCertificate). A client that presents a
// certificate that does not verify fails the handshake. When every route requires a
// client certificate, refuse the others at the handshake too:
//
//	cfg := mtls.TLSConfig(roots, serverCert)
//	cfg.ClientAuth = tls.RequireAndVerifyClientCert
//
// The handshake's verification is a first gate only (it runs at the wall-clock time and
// accepts certificates without extended key usages); Authenticator.Certificate verifies
// again, by its own rules, on every request. A nil roots means an empty pool, so that no
// client certificate verifies — never the system roots. The pool is copied. The result
// is a new *tls.Config the caller may modify.
func TLSConfig(roots *x509.CertPool, serverCert tls.Certificate) *tls.Config {
	if roots == nil {
		roots = x509.NewCertPool()
	} else {
		roots = roots.Clone()
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    roots,
	}
}
