package authn

import (
	"errors"

	"github.com/phikit/phikit/authn/dpop"
)

// Error is a reason a request failed authentication. The exported values below are the
// complete set; compare with errors.Is. Every Error maps to a fixed answer (status and
// RFC 6750 error code) and to a stable reason recorded in the audit event; none carries
// the token, a claim, or anything else from the request.
type Error struct {
	reason string
	msg    string
	class  errorClass
}

type errorClass int

const (
	classNoCredentials    errorClass = iota // 401, challenge without an error code
	classInvalidRequest                     // 400 invalid_request
	classInvalidToken                       // 401 invalid_token
	classUnavailable                        // 503: the issuer's keys cannot be had
	classInsufficientAuth                   // 401 insufficient_user_authentication (RFC 9470)
	classInvalidDPoPProof                   // 401 DPoP invalid_dpop_proof (RFC 9449)
	classUseDPoPNonce                       // 401 DPoP use_dpop_nonce, with a DPoP-Nonce header
)

func (e *Error) Error() string { return "authn: " + e.msg }

// Reason returns the stable category recorded in the audit event, such as
// "authn.expired".
func (e *Error) Reason() string { return "authn." + e.reason }

// The request carried no usable credential, or carried it wrongly.
var (
	ErrNoCredentials       = &Error{"missing", "no credentials", classNoCredentials}
	ErrUnsupportedScheme   = &Error{"unsupported-scheme", "unsupported authorization scheme", classNoCredentials}
	ErrTokenInQuery        = &Error{"token-in-query", "access token in the query string", classInvalidRequest}
	ErrMultipleCredentials = &Error{"multiple-credentials", "more than one credential", classInvalidRequest}
)

// The token was refused.
var (
	ErrTokenTooLarge         = &Error{"too-large", "token too large", classInvalidToken}
	ErrMalformedToken        = &Error{"malformed", "malformed token", classInvalidToken}
	ErrUnsupportedToken      = &Error{"unsupported-token", "unsupported token form (JWE, JSON serialization, nested or unencoded payload)", classInvalidToken}
	ErrAlgorithm             = &Error{"algorithm", "signature algorithm not allowed for this issuer", classInvalidToken}
	ErrCriticalHeader        = &Error{"crit", "token has critical header parameters", classInvalidToken}
	ErrEmbeddedKey           = &Error{"embedded-key", "token names its own key (jwk, jku or x5u)", classInvalidToken}
	ErrWrongType             = &Error{"type", "token type not accepted", classInvalidToken}
	ErrUnknownIssuer         = &Error{"issuer", "issuer not trusted", classInvalidToken}
	ErrUnknownKey            = &Error{"unknown-key", "no key of the issuer matches the token", classInvalidToken}
	ErrSignature             = &Error{"signature", "signature verification failed", classInvalidToken}
	ErrMissingClaim          = &Error{"missing-claim", "required claim missing or of the wrong type", classInvalidToken}
	ErrAudience              = &Error{"audience", "token not meant for this audience", classInvalidToken}
	ErrTokenExpired          = &Error{"expired", "token expired", classInvalidToken}
	ErrTokenNotYetValid      = &Error{"not-yet-valid", "token not valid yet", classInvalidToken}
	ErrIssuedInFuture        = &Error{"issued-in-future", "token issued in the future", classInvalidToken}
	ErrLifetimeTooLong       = &Error{"lifetime", "token lifetime longer than the issuer's maximum", classInvalidToken}
	ErrIDTokenNotAccepted    = &Error{"id-token", "an ID token is not an access token", classInvalidToken}
	ErrProofOfPossession     = &Error{"proof-of-possession", "token bound to a certificate or key the request does not prove", classInvalidToken}
	ErrRevocationUnavailable = &Error{"revocation-unavailable", "the revocation list is unavailable", classUnavailable}
	ErrKeysUnavailable       = &Error{"keys-unavailable", "the issuer's keys are unavailable", classUnavailable}
)

// The DPoP proof was refused (RFC 9449). A DPoPError wraps one of these and the dpop
// package's error saying why.
var (
	ErrInvalidDPoPProof = &Error{"dpop", "invalid DPoP proof", classInvalidDPoPProof}
	ErrUseDPoPNonce     = &Error{"dpop-nonce", "DPoP proof needs a fresh server nonce", classUseDPoPNonce}
	ErrDPoPUnavailable  = &Error{"dpop-unavailable", "the DPoP replay store is unavailable", classUnavailable}
)

// DPoPError is the failure of a request's DPoP proof. It matches (errors.Is) both the
// authn sentinel that decides the answer — ErrInvalidDPoPProof, ErrUseDPoPNonce or
// ErrDPoPUnavailable — and the dpop package's error, and its Reason is the dpop
// package's ("dpop.replay", "dpop.signature", …).
type DPoPError struct {
	Err error // from dpop.Verifier.Verify
}

func (e *DPoPError) Error() string { return "authn: " + e.Err.Error() }

// Unwrap returns the answer's sentinel and the dpop error.
func (e *DPoPError) Unwrap() []error {
	switch {
	case errors.Is(e.Err, dpop.ErrUseNonce):
		return []error{ErrUseDPoPNonce, e.Err}
	case errors.Is(e.Err, dpop.ErrReplayStore):
		return []error{ErrDPoPUnavailable, e.Err}
	}
	return []error{ErrInvalidDPoPProof, e.Err}
}

// Reason returns the audit category of the dpop package's error.
func (e *DPoPError) Reason() string {
	var de *dpop.Error
	if errors.As(e.Err, &de) {
		return de.Reason()
	}
	return ErrInvalidDPoPProof.Reason()
}
