// Package dpop verifies DPoP proofs (RFC 9449): the signed JWT a client sends in the DPoP
// header to show that it holds the private key an access token is bound to, so that a
// stolen token is useless without that key.
//
// A Verifier checks one request's proof and returns the thumbprint of its key; the
// caller, normally package authn's Authenticator, checks that the access token is bound
// to that key:
//
//	v, err := dpop.New(dpop.Config{
//		BaseURL: "https://fhir.example.org", // as clients address the service
//		Replay:  dpop.NewMemoryReplayStore(0, nil), // redisreplay for several replicas
//	})
//	if err != nil {
//		return err
//	}
//
//	// For a request with "Authorization: DPoP <token>":
//	proof, err := v.Verify(r.Context(), r, token)
//	switch {
//	case errors.Is(err, dpop.ErrUseNonce):
//		nonce, _ := v.NonceHeader(r.Context())
//		w.Header().Set("DPoP-Nonce", nonce)
//		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
//		w.WriteHeader(http.StatusUnauthorized)
//		return
//	case errors.Is(err, dpop.ErrReplayStore):
//		w.WriteHeader(http.StatusServiceUnavailable) // fail closed
//		return
//	case err != nil:
//		w.Header().Set("WWW-Authenticate", `DPoP error="invalid_dpop_proof"`)
//		w.WriteHeader(http.StatusUnauthorized)
//		return
//	}
//	if subtle.ConstantTimeCompare([]byte(tokenCnfJKT), []byte(proof.JKT)) != 1 {
//		// the token is bound to another key, or to none: invalid_token
//	}
//
// # What is verified
//
// Verify follows RFC 9449 §4.3, cheapest checks first: exactly one DPoP header, at most
// MaxProofBytes (4 KiB); a compact JWS with canonical base64url; header and claims JSON
// objects in valid UTF-8 with unique member names (compared case-insensitively); no crit;
// typ "dpop+jwt" exactly; alg among Config.Algorithms (asymmetric only); jti (at most 256
// bytes), htm, htu and a numeric iat present; htm equal to the request method; htu equal
// to the request's URI (below); iat no older than MaxAge (60 s) and no more than
// ClockSkew (5 s) in the future; ath equal to the hash of the access token when there is
// one; a server nonce when Config.Nonce is set; a jwk that is a public EC (P-256, P-384,
// P-521), RSA (2048 to 4096 bits) or Ed25519 key fitting alg, without private members,
// never a symmetric key; the signature by that key; and last the jti, which must not have
// been seen before and is then remembered until iat + MaxAge + ClockSkew. A proof refused
// by any earlier check never reaches the replay store.
//
// The request's URI is Config.BaseURL followed by the request's path, so that a service
// behind a TLS-terminating proxy compares against the URI its clients used without
// trusting Host or forwarded headers. Scheme and host compare case-insensitively, default
// ports are ignored, percent-encodings are normalized (RFC 3986 §6.2.2), and the query
// and fragment of the proof's htu are ignored; the path must otherwise be exact.
//
// # Nonces
//
// With Config.Nonce set (NewNonces: stateless HMAC nonces that change every window and
// are shared by replicas holding the same key), a proof must carry a recent server
// nonce. A proof without one is refused with ErrUseNonce; the answer carries a fresh
// nonce from Verifier.NonceHeader in a DPoP-Nonce header and the client retries. This
// bounds how long before its use a proof can have been made even if the client's clock,
// or an attacker who briefly held the key, put a future iat in it.
//
// # Replay stores
//
// MemoryReplayStore serves a single replica; package redisreplay shares the record
// between replicas. Package dpoptest's Run is the conformance suite for other stores. A
// store error refuses the proof (ErrReplayStore).
//
// # Security considerations
//
// A verified proof shows only that the caller holds the private key of Proof.JKT. It
// authorizes nothing unless the access token is bound to that key: the caller must check
// that the token's cnf.jkt equals Proof.JKT, that the Authorization scheme was DPoP, and
// must refuse a DPoP-bound token presented as a Bearer token.
//
// Verify never returns or logs the proof, the access token or a claim; errors carry a
// fixed message. Proof.JTI comes from the client and may be logged only as an
// identifier of the request.
//
// Replay protection is only as good as the store: with several replicas, a
// MemoryReplayStore per replica lets a proof be used once per replica within MaxAge.
// Use redisreplay (or another shared store) there. When the memory store is full, proofs
// are refused until records expire: size it for the peak rate of proofs times
// MaxAge + ClockSkew.
//
// Proof keys are chosen by clients. RSA keys are limited to 4096 bits so that a client
// cannot make the server pay for verifying huge ones, and the header size is checked
// before any parsing.
//
// NewProof and Thumbprint are for clients and tests; a server only verifies.
package dpop
