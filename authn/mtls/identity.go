package mtls

import "crypto/x509"

// DefaultIdentity is the mapping used when Config.Identity is nil. It returns, in this
// order of preference:
//
//  1. the URI SAN, when the certificate has exactly one (a SPIFFE ID, a FHIR endpoint
//     URI), in its URL.String form;
//  2. otherwise the first DNS SAN, as written in the certificate;
//  3. otherwise the Common Name of the certificate's subject.
//
// It returns ErrNoIdentity when none is present. Two or more URI SANs are ambiguous and
// are skipped, not chosen between. The Common Name comes last because nothing constrains
// it: x509 name constraints on the CA apply to SANs only. With a CA that issues
// certificates to more than one kind of client, write an Identity that checks what the
// CA guarantees (a URI scheme and host, an organization). DefaultIdentity is safe for
// concurrent use.
func DefaultIdentity(cert *x509.Certificate) (string, error) {
	if len(cert.URIs) == 1 && cert.URIs[0] != nil {
		if s := cert.URIs[0].String(); s != "" {
			return s, nil
		}
	}
	if len(cert.DNSNames) > 0 && cert.DNSNames[0] != "" {
		return cert.DNSNames[0], nil
	}
	if cert.Subject.CommonName != "" {
		return cert.Subject.CommonName, nil
	}
	return "", ErrNoIdentity
}
