// Package phikit is a library of composable net/http security middleware for APIs that
// carry protected health information (PHI). This root package holds the pieces every
// service needs first — Chain, RequestID and SecureHeaders — and this page explains the
// order in which the whole chain belongs.
//
// Each concern lives in its own package: problem (error bodies), audit (one audit event
// per request), authn, authz, validate, ratelimit, idempotency and, as they land, redact
// and crypto. They are plain func(http.Handler) http.Handler middleware, usable with any
// router and with each other.
//
// # The recommended order
//
// Outermost first; each layer relies on the ones before it:
//
//  1. RequestID and SecureHeaders: every response, even a rejection by a later layer,
//     carries an id and safe headers.
//  2. audit: opens the request's audit record and emits exactly one event when the
//     response is done, whatever happened inside (rejections, panics, disconnects).
//  3. ratelimit by client address, before any expensive work.
//  4. authn: verifies the credential and records who is calling.
//  5. ratelimit by principal or client; adaptive concurrency limit.
//  6. authz: decides, records the decision and its reasons, attaches obligations.
//  7. validate: the strict body and query gate.
//  8. idempotency for unsafe methods; If-Match preconditions for updates.
//  9. The handler, which annotates the audit record with the patients and resources it
//     touched.
//
// Wiring the layers that exist today:
//
//	aud, err := audit.New(audit.Config{Sink: audit.NewJSONLines(auditFile), Service: "clinic"})
//	auth, err := authn.New(authn.Config{Issuers: []authn.IssuerConfig{{
//		Issuer: "https://login.example-hospital.org/", Audiences: []string{"https://fhir.example-hospital.org"},
//	}}})
//	perAddress, err := ratelimit.New(ratelimit.Config{Limiter: addrLimiter, Resolver: resolver, Policy: "per-address"})
//	perUser, err := ratelimit.New(ratelimit.Config{Limiter: userLimiter, Key: authn.KeyBySubject, Policy: "per-user"})
//	conc, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{MinLimit: 10, MaxLimit: 200})
//	az, err := authz.New(authz.Config{CareTeam: careTeam, Consent: consentStore, DefaultPurpose: "TREAT"})
//	gate, err := validate.New(validate.Config{})
//	observations, err := validate.NewBody[Observation](gate)
//	idem, err := idempotency.New(idempotency.Config{Store: idemStore, Sealer: sealer, Key: authn.KeyBySubject})
//	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{Versioner: patientVersions, FHIR: true})
//	// (check each err)
//
//	mux.Handle("POST /fhir/Observation", observations.Handler(idem.Handler(createObservation)))
//	mux.Handle("PUT /fhir/Patient/{id}", patients.Handler(pre.Handler(updatePatient)))
//	handler := phikit.Chain(
//		phikit.RequestID,
//		phikit.SecureHeaders,
//		aud.Handler,
//		perAddress.Handler,
//		auth.Handler,
//		perUser.Handler,
//		conc.Handler,
//		az.Handler,
//	)(audit.RecordRoute(mux))
//
// audit.RecordRoute lets the audit event name the mux pattern that matched even though
// authn hands the mux a copy of the request.
//
// Every rejection phikit writes is an RFC 9457 problem (or a FHIR OperationOutcome for
// clients that accept application/fhir+json) with a stable type URI and the request id,
// and nothing taken from the request.
//
// # Security considerations
//
// The request id honours a caller's W3C traceparent, so its trace half is chosen by the
// client: use it to correlate, never as a key that must be unique or secret. The span half
// is always drawn here from crypto/rand, which keeps whole ids unique.
//
// SecureHeaders sets Cache-Control: no-store on every response; a handler that overrides
// it for a route must be sure that route never returns PHI.
//
// Put audit outside every layer that can reject a request, so that rejections are
// audited too, and inside RequestID, so that the event and the response share an id.
package phikit
