// Package authn establishes who is calling: it verifies OAuth 2.0 / OpenID Connect JWT
// access tokens against each trusted issuer's published keys, puts the caller's
// Principal in the request context, records who (or why not) in the audit event, and
// enforces per-route step-up (RFC 9470).
//
//	auth, err := authn.New(authn.Config{
//		Issuers: []authn.IssuerConfig{{
//			Issuer:     "https://login.example-hospital.org/",
//			Audiences:  []string{"https://fhir.example-hospital.org"},
//			Algorithms: []string{"RS256", "ES256"}, // what this IdP signs with
//			// JWKSURL empty: OpenID Connect discovery finds the key set.
//		}},
//		Realm: "fhir",
//	})
//	if err != nil {
//		return err
//	}
//	mfa, err := auth.RequireStepUp(authn.StepUp{AMR: []string{"mfa"}, MaxAge: 15 * time.Minute})
//	if err != nil {
//		return err
//	}
//	mux.Handle("PUT /fhir/Patient/{id}", mfa(updatePatient))
//	handler := phikit.Chain(phikit.RequestID, phikit.SecureHeaders, aud.Handler, auth.Handler)(audit.RecordRoute(mux))
//
// In a handler:
//
//	p, _ := authn.FromContext(r.Context())
//	if p.Patient != "" { … } // a SMART patient-context token
//
// # What is verified
//
// Tokens come only from the Authorization header ("Bearer"); a request that carries an
// access_token query parameter is refused (400 invalid_request) and the token is never
// used. Before any parsing, a token longer than MaxTokenBytes is refused. Then, in this
// order, cheapest first so that garbage costs no public-key operation:
//
//   - compact JWS only: JWE, the JSON serialization, nested tokens (cty JWT), unencoded
//     payloads (b64) and compressed ones (zip) are refused; base64url must be canonical;
//   - header and claims must be JSON objects in valid UTF-8 with unique member names,
//     compared case-insensitively — a second "exp", an "EXP", or "\u0065xp" is refused;
//   - crit is refused (phikit understands no extension), and so is any header that names
//     its own key (jwk, jku, x5u): keys come only from the issuer's key set;
//   - typ must be absent, "JWT" or "at+jwt" (RequireAccessTokenType: only "at+jwt");
//   - iss must be a configured issuer exactly; alg must be one that issuer allows, and
//     never "none" or HMAC;
//   - a token with nonce, at_hash or c_hash is an ID token, not an access token;
//   - exp is required and numeric (a date written as a string is refused), now must be
//     before it; nbf and iat may not be in the future; exp minus iat may not exceed
//     MaxLifetime; Leeway, at most 5 minutes, applies to all three;
//   - aud must name one of the issuer's Audiences; sub is required;
//   - the signature must verify with a key of that issuer's set whose kid matches (when
//     the token names one), whose type and curve fit alg, and whose own alg, when
//     published, is alg. RSA keys under 2048 bits, symmetric keys and encryption keys in
//     a key set are ignored.
//
// jwx (github.com/lestrrat-go/jwx/v2) parses the key sets; signatures are checked with
// the standard library's crypto on keys converted once per fetch.
//
// # Key sets
//
// Each issuer's keys are fetched on its first token — from JWKSURL, or from the jwks_uri
// of its OpenID configuration, which must name the issuer exactly — over https only
// (InsecureAllowHTTP is for a development IdP on loopback), without following redirects,
// at most 256 KiB. A set is fresh for its Cache-Control max-age within
// [MinRefresh, MaxRefresh] and is refreshed in the background from three quarters of
// that time. While the issuer cannot be reached, the last good set is served for
// MaxStale past its refresh time; after that, requests fail closed with 503. A kid not in
// the set causes at most one refetch per UnknownKeyInterval, and a kid still missing
// afterwards is remembered as bad until the set changes, so a flood of random kids costs
// the issuer nothing. Keys are never shared between issuers.
//
// # The verified-token cache
//
// A token seen again is accepted from a cache keyed by the SHA-256 of the whole token,
// without repeating the signature check (about 0.6 µs instead of 30–50 µs), and never
// past its exp. The cache is bounded (CacheSize) and sharded.
//
// # Errors
//
// Failures are RFC 6750 challenges with a problem body from package problem: 401 with
// WWW-Authenticate: Bearer (no error code) when there is no credential, error="invalid_token"
// for any refused token, 400 error="invalid_request" for a malformed request, 401
// error="insufficient_user_authentication" with acr_values and max_age for step-up, and
// 503 with Retry-After when an issuer's keys cannot be had. Which check failed is never
// told to the client; it is recorded in the audit event as a stable category
// ("authn.expired", "authn.signature", …) — see Error.Reason.
//
// # Security considerations
//
// Neither the token nor any claim appears in a response, a log line or an audit event;
// the audit event records the verified subject, issuer, client and roles only after the
// signature checked out. Logger gets only key-set fetch failures, named by issuer.
//
// The cache holds principals for at most CacheSize tokens and never beyond exp, but a
// token revoked at the issuer stays valid here until it expires: keep access-token
// lifetimes short (MaxLifetime defaults to 2 hours). Revocation lists, introspection of
// opaque tokens, mTLS and certificate-bound tokens, DPoP and API keys are not built yet.
//
// Step-up trusts the issuer's acr, amr and auth_time claims; configure only issuers that
// set them truthfully.
//
// Package authntest mints tokens for tests and local development; never trust its
// issuer in production.
package authn
