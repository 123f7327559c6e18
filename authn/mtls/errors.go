package mtls

// Error is a reason a request failed client-certificate authentication. The exported
// values below are the complete set; compare with errors.Is. Each has a stable reason
// recorded in the audit event ("mtls.expired", …). No Error carries anything from the
// certificate or the request: a message names the condition only.
//
// The verification failures (ErrCertificateExpired, ErrUnknownAuthority,
// ErrCertificateUsage) also match ErrCertificateInvalid, so that
// errors.Is(err, ErrCertificateInvalid) asks "was a certificate presented and refused?".
type Error struct {
	reason  string
	msg     string
	invalid bool // a verification failure: Is(ErrCertificateInvalid)
}

func (e *Error) Error() string { return "mtls: " + e.msg }

// Reason returns the stable category recorded in the audit event, such as
// "mtls.expired".
func (e *Error) Reason() string { return "mtls." + e.reason }

// Is reports whether target is ErrCertificateInvalid and e is a verification failure.
func (e *Error) Is(target error) bool { return e.invalid && target == ErrCertificateInvalid }

// Where the certificate comes from.
var (
	// ErrNoCertificate: the TLS connection carried no client certificate, or a trusted
	// proxy forwarded none.
	ErrNoCertificate = &Error{"no-certificate", "no client certificate", false}
	// ErrUntrustedForwarder: the request carries a Client-Cert or Client-Cert-Chain header
	// but its peer is not a trusted proxy. The header is never used, and the request is
	// refused even when the connection itself carries a valid certificate.
	ErrUntrustedForwarder = &Error{"untrusted-forwarder", "client certificate header from a peer that is not a trusted proxy", false}
	// ErrMalformedHeader: a trusted proxy's Client-Cert or Client-Cert-Chain header is not
	// exactly one RFC 9440 byte sequence (a list of them for the chain) holding one DER
	// certificate each, or the chain came without the certificate.
	ErrMalformedHeader = &Error{"malformed-header", "malformed client certificate header", false}
	// ErrHeaderTooLarge: the forwarded headers are longer than Config.MaxHeaderBytes.
	ErrHeaderTooLarge = &Error{"header-too-large", "client certificate header too large", false}
)

// The certificate was refused.
var (
	// ErrCertificateInvalid: the certificate does not verify against Config.Roots. It is
	// also matched by the three more precise errors below.
	ErrCertificateInvalid = &Error{"invalid", "client certificate not valid", true}
	// ErrCertificateExpired: the certificate, or one in its chain, is expired or not yet
	// valid at Config.Now.
	ErrCertificateExpired = &Error{"expired", "client certificate expired or not yet valid", true}
	// ErrUnknownAuthority: the certificate does not chain to Config.Roots.
	ErrUnknownAuthority = &Error{"unknown-authority", "client certificate signed by an unknown authority", true}
	// ErrCertificateUsage: the certificate is not meant for client authentication: it does
	// not list the clientAuth extended key usage itself, it is a CA certificate, or its
	// chain does not allow clientAuth.
	ErrCertificateUsage = &Error{"usage", "client certificate not valid for client authentication", true}
)

// ErrNoIdentity: the certificate verified but names no subject — the default mapping
// found no URI SAN, DNS SAN or Common Name, or Config.Identity failed (its error is
// wrapped) or returned an empty subject.
var ErrNoIdentity = &Error{"no-identity", "no subject for the client certificate", false}
