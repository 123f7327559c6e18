package dpop

import "errors"

// Error is a reason Verify refused a request's DPoP proof. The exported values below are
// the complete set; compare with errors.Is. None carries the proof, the access token or
// anything else from the request.
//
// How to answer (RFC 9449 §7.1, §8):
//
//   - ErrUseNonce: 401 with WWW-Authenticate: DPoP error="use_dpop_nonce" and a fresh
//     DPoP-Nonce header from Verifier.NonceHeader (400 at a token endpoint);
//   - ErrReplayStore: the replay store failed, so the proof could not be checked for
//     reuse: 503, the proof refused (fail closed);
//   - any other: 401 with WWW-Authenticate: DPoP error="invalid_dpop_proof" (400 at a
//     token endpoint).
type Error struct {
	reason string
	msg    string
}

func (e *Error) Error() string { return "dpop: " + e.msg }

// Reason returns a stable category for audit events, such as "dpop.replay".
func (e *Error) Reason() string { return "dpop." + e.reason }

// The request carried no proof, or carried it wrongly.
var (
	ErrMissingProof   = &Error{"missing", "no DPoP proof"}
	ErrMultipleProofs = &Error{"multiple", "more than one DPoP proof"}
	ErrProofTooLarge  = &Error{"too-large", "DPoP proof too large"}
)

// The proof was refused.
var (
	ErrMalformedProof  = &Error{"malformed", "malformed DPoP proof"}
	ErrWrongType       = &Error{"type", `DPoP proof typ is not "dpop+jwt"`}
	ErrAlgorithm       = &Error{"algorithm", "DPoP proof signature algorithm not allowed"}
	ErrBadKey          = &Error{"key", "DPoP proof jwk missing or not an acceptable public key"}
	ErrSignature       = &Error{"signature", "DPoP proof signature verification failed"}
	ErrMissingClaim    = &Error{"missing-claim", "DPoP proof claim missing or invalid"}
	ErrMethod          = &Error{"htm", "DPoP proof names another HTTP method"}
	ErrURI             = &Error{"htu", "DPoP proof names another target URI"}
	ErrProofExpired    = &Error{"expired", "DPoP proof too old"}
	ErrIssuedInFuture  = &Error{"issued-in-future", "DPoP proof issued in the future"}
	ErrAccessTokenHash = &Error{"ath", "DPoP proof does not match the access token"}
	ErrUseNonce        = &Error{"nonce", "DPoP proof lacks a valid server nonce"}
	ErrReplay          = &Error{"replay", "DPoP proof replayed"}
)

// ErrReplayStore wraps every error of the replay store: the proof could not be checked
// for reuse and is refused.
var ErrReplayStore = &Error{"replay-store", "replay store failed"}

// ErrStoreFull is returned by MemoryReplayStore.Use when the store holds its maximum of
// unexpired proofs; Verify then refuses the proof (wrapped in ErrReplayStore).
var ErrStoreFull = errors.New("dpop: replay store full")
