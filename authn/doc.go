// Package authn establishes who is calling. Its Authenticator verifies OAuth 2.0 /
// OpenID Connect access tokens — JWTs against each trusted issuer's published keys, opaque
// tokens by introspection (RFC 7662) — enforces sender constraints (certificate-bound
// tokens, RFC 8705; DPoP, RFC 9449), consults a revocation deny-list, puts the caller's
// Principal in the request context, records who (or why not) in the audit event, and
// enforces per-route step-up (RFC 9470). Subpackages cover the other credentials a
// healthcare API meets: apikey (service callers that cannot do OAuth), mtls (client
// certificates, directly or from a trusted TLS-terminating proxy), and dpop (the proof
// verifier the Authenticator uses). authntest mints tokens for tests and development.
//
//	auth, err := authn.New(authn.Config{
//		Issuers: []authn.IssuerConfig{{
//			Issuer:     "https://login.example-hospital.org/",
//			Audiences:  []string{"https://fhir.example-hospital.org"},
//			Algorithms: []string{"RS256", "ES256"}, // what this IdP signs with
//			// JWKSURL empty: OpenID Connect discovery finds the key set.
//		}},
//		Revocations: denyList, // optional: a jti deny-list, e.g. redisrevocation.New(…) shared by replicas
//		Realm:       "fhir",
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
// past its exp. The cache is bounded (CacheSize) and sharded. What must hold for every
// request is checked on cache hits too: the revocation deny-list, the client certificate
// of a certificate-bound token, and the DPoP proof of a DPoP-bound token.
//
// # Opaque tokens
//
// With Config.Introspection, a token that is not a compact JWS is sent to the issuer's
// introspection endpoint (client_secret_basic). The answer is read strictly (unique
// members, numeric exp required, aud must match, refresh tokens refused); an active
// answer is reused for at most MaxCacheTTL and never past exp, a refusal is remembered for
// InactiveCacheTTL so that floods of bad tokens stay local, and an endpoint that cannot
// be asked refuses with 503. Scopes come with the answer and are checked by each route
// (package authz), never folded into the cache key.
//
// # Revocation
//
// Config.Revocations is a jti deny-list per issuer (NewMemoryRevocations, or
// redisrevocation for replicas); Authenticator.Revoke adds a token until its exp plus the
// issuer's leeway. It is consulted on every request, and an error refuses (503). With a
// deny-list configured, a JWT without a jti is refused, since it could not be revoked.
//
// # Sender-constrained tokens
//
// The cnf of a JWT, or of an introspection answer about an opaque token, binds the token.
// A token whose cnf names a certificate thumbprint (x5t#S256) is accepted only with that
// client certificate: by default the one the server's TLS stack verified, or the one
// Config.ClientCertificate returns (mtls.Authenticator.Certificate behind a proxy). A
// token whose cnf names a key (jkt) is accepted only with the DPoP scheme and a fresh
// proof signed by that key (Config.DPoP); presented as Bearer it is refused. A cnf that
// names neither is refused, since the binding could not be checked.
//
// # Rate-limit and idempotency keys
//
// KeyBySubject, KeyByClient, KeyByAPIKey and KeyByTenant are key functions for packages
// ratelimit and idempotency (which never import authn): the caller, the OAuth client (a
// SMART app), the API key by its public id, or the tenant (IssuerConfig.TenantClaim, or
// the API key's Record.Tenant). Each is scoped by issuer, and reports false when the
// request has no such value, so the limiter falls back to the client address.
//
// # Errors
//
// Failures are RFC 6750 challenges with a problem body from package problem: 401 with
// WWW-Authenticate: Bearer (no error code) when there is no credential, error="invalid_token"
// for any refused token, 400 error="invalid_request" for a malformed request, 401
// error="insufficient_user_authentication" with acr_values and max_age for step-up, 401
// DPoP error="invalid_dpop_proof" or "use_dpop_nonce" (with a DPoP-Nonce header) for a
// refused proof, and 503 with Retry-After when an issuer's keys, the introspection
// endpoint, the deny-list or the DPoP replay store cannot be had. Which check failed is never
// told to the client; it is recorded in the audit event as a stable category
// ("authn.expired", "authn.signature", …) — see Error.Reason.
//
// # Security considerations
//
// Neither the token nor any claim appears in a response, a log line or an audit event;
// the audit event records the verified subject, issuer, client and roles only after the
// signature checked out. Logger gets only key-set fetch failures, named by issuer.
//
// The cache holds principals for at most CacheSize tokens and never beyond exp. A JWT
// revoked at the issuer stays valid here until it expires unless the service also adds
// it to Revocations: keep access-token lifetimes short (MaxLifetime defaults to 2 hours).
// An introspected token revoked at the issuer is refused at most MaxCacheTTL later.
//
// Bearer tokens can be replayed by whoever steals them; certificate-bound or DPoP-bound
// tokens cannot, and are the better choice for back-end services and for apps that can
// hold a key.
//
// Step-up trusts the issuer's acr, amr and auth_time claims; configure only issuers that
// set them truthfully.
//
// Package authntest mints tokens for tests and local development; never trust its
// issuer in production.
package authn
