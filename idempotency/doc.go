// Package idempotency makes retries and overwrites safe: the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header) for unsafe requests, so that a retried POST
// does not order the same medication twice, and If-Match preconditions (RFC 9110, with a
// FHIR mode; see [Preconditions]) so that a stale PUT does not overwrite a newer chart.
//
// Wiring the Idempotency-Key middleware, inside authentication, on the routes that need
// it:
//
//	store, err := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
//	// or redisstore / pgstore, shared by every replica
//	sealer, err := idempotency.NewAESGCM(key) // 32 bytes from your key management
//	idem, err := idempotency.New(idempotency.Config{
//		Store:    store,
//		Sealer:   sealer,
//		Key:      authn.KeyBySubject, // the principal keys are scoped to
//	})
//	mux.Handle("POST /fhir/Observation", idem.Handler(createObservation))
//	http.ListenAndServe(addr, authn.Handler(mux))
//
// A client sends a fresh key (a UUID) with each new operation and the same key with each
// retry of it, as an RFC 8941 string (Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324")
// or a bare token; keys are 1 to 255 printable ASCII characters ([ParseKey]).
//
// # What a client gets
//
// The middleware applies to Config.Methods (POST and PATCH by default); other requests pass
// through. For a request it applies to:
//
//   - no Idempotency-Key: 400 problem.IdempotencyKeyMissing, or with
//     Config.InsecureOptionalKey the request runs unprotected; a malformed key or two Idempotency-Key lines: 400
//     problem.IdempotencyKeyInvalid; no principal (Config.Key reports false): 401
//     problem.Unauthenticated; a body over Config.MaxBodyBytes: 413.
//   - a new key: the handler runs, its response goes to the client as it is written, and
//     is then stored, sealed, for Config.TTL (24 hours by default).
//   - the same key and the same request again: the stored status, body and allow-listed
//     headers (Config.ReplayHeaders: Content-Type, Content-Location, Location, ETag and
//     Last-Modified by default, never Set-Cookie), with Idempotent-Replayed: true. The
//     handler does not run.
//   - the same key with another request (another method, path, query, media type,
//     content coding or body): 422 problem.IdempotencyKeyReused. Bodies are compared by a SHA-256 fingerprint; JSON
//     bodies (application/json, application/fhir+json) in canonical form ([CanonicalJSON]),
//     so reformatting or reordering members is the same request, but 1.0 for 1 is not.
//   - the same key while the first request is still running: 409
//     problem.IdempotencyInProgress with Retry-After: 1, or, with Config.Wait, the
//     duplicate waits up to that long for the first and gets its replay.
//   - the same key after a response too large to store (over Config.MaxResponseBytes, 1 MiB
//     by default): 409 problem.IdempotencyNotReplayable. The first client got the whole
//     response; the request is not run again, and its response cannot be given again.
//     The same holds when writing the response to the first client failed (the
//     connection broke): what was kept may be truncated, so it is never replayed.
//   - the stored response cannot be opened (the sealing key was rotated away): 500
//     problem.Internal; the handler is not run again.
//   - the store fails: 503 problem.Unavailable with Retry-After; the handler never runs
//     without the protection.
//
// A response with a 5xx, 408 or 429 status is not stored, nor one the handler panicked
// before finishing (the panic goes on), nor one abandoned by a cancelled request before
// any status was written: the key is released and the client may retry with it. Any
// other response (including 4xx) is stored and replayed, as the draft asks.
//
// Every refusal is recorded in the request's audit event (audit.Event.Rejection:
// "idempotency.key-reused", "idempotency.in-progress", "idempotency.missing-key", …), and
// a replay in its notes ("idempotency.replay").
//
// # Expiry policy
//
// Records expire Config.TTL after the response was stored: 24 hours by default
// ([DefaultTTL]). Publish it to your clients (the draft asks servers to): a retry after
// it runs the request again. A request's lock lasts Config.Lease (1 minute by default):
// if the process running it crashes, a retry after the lease runs it again.
//
// # Preconditions
//
// Preconditions makes updates conditional (RFC 9110 §13.1.1–2), so a client that read
// version 3 cannot silently overwrite version 4. The handler's store supplies the current
// version through a Versioner; wrap each route's handler inside the mux so that the
// Versioner sees r.PathValue:
//
//	pre, err := idempotency.NewPreconditions(idempotency.PreconditionConfig{
//		Versioner: idempotency.VersionerFunc(func(r *http.Request) (string, bool, error) {
//			v, ok, err := db.PatientVersion(r.Context(), r.PathValue("id"))
//			if err != nil || !ok {
//				return "", ok, err
//			}
//			etag, err := idempotency.FHIRVersionETag(v) // W/"<versionId>"
//			return etag, true, err
//		}),
//		FHIR: true, // clients send If-Match: W/"<versionId>"
//	})
//	mux.Handle("PUT /fhir/Patient/{id}", pre.Handler(http.HandlerFunc(updatePatient)))
//
// A PUT, PATCH or DELETE without If-Match (or If-None-Match: * to create only if absent)
// is answered 428; one whose If-Match names no current version, or whose If-None-Match: *
// finds the resource, 412; a malformed field 400; a Versioner failure 503 with
// Retry-After: 1. Each refusal is recorded in the audit event
// ("idempotency.precondition-required", …). Serve the
// same tags in the ETag field of reads: StrongETag for a body hash, ETagFromVersion or
// FHIRVersionETag for a version.
//
// # Stores
//
// [Store] is the interface a backend implements; [MemoryStore] keeps records in this
// process (one replica, and tests), and the redisstore and pgstore subpackages share them
// between replicas. idempotencytest.RunStoreTests checks a Store.
//
// # Security considerations
//
// PHI at rest: stored responses hold PHI. They are always sealed with Config.Sealer
// (AES-256-GCM with [NewAESGCM], or package crypto's envelope AEAD), bound to their record
// so that a sealed response cannot be moved to another key; there is no plaintext mode.
// Only the allow-listed headers are kept; Set-Cookie is refused at configuration.
//
// Scoping: the store key is a SHA-256 of the principal (Config.Key), the method, the route
// (the ServeMux pattern when the middleware wraps a route, else the path) and the
// Idempotency-Key, each length-prefixed; no raw identifier reaches the store. Another
// principal sending the same key gets its own record, never someone else's response. A
// request without a principal is refused, never served from an unscoped record.
//
// 409 and 422: a 409 means "the first request with this key is running (or its response
// cannot be replayed); do not assume it failed"; a 422 means "this key belongs to another
// request". Neither runs the handler. Neither response ever echoes the key or the body.
//
// Expiry: after Config.TTL a key can be used again and the request runs again. A handler
// that runs longer than Config.Lease loses its lock: a retry may then run concurrently,
// and the first response is not stored (logged as a lost lease). Set Lease above the
// slowest handler's time.
//
// Clocks: leases and expiry are decided on Config.Now's times, which the middleware gives
// to the store; replicas sharing a store must keep their clocks synchronized (NTP) to
// well under Config.Lease.
//
// Preconditions are not the write. Between the middleware's check and the handler's write
// another request can change the resource, so the handler must write conditionally on the
// version it was checked against (CheckedFromContext): UPDATE … WHERE id = $1 AND version
// = $2, or an insert that fails if the row exists, answering 412 when nothing changed.
// Without that, preconditions narrow the lost-update window but do not close it.
//
// If-Match is compared strongly, as RFC 9110 requires, unless FHIR is set. FHIR mode
// compares the opaque tags only (W/"3" and "3" both match W/"3"), which is sound only when
// the tag is a versionId that changes with every update — never turn it on for tags that
// are hashes of a representation. Malformed fields are refused, never treated as absent,
// and fields over MaxPreconditionFieldBytes (4 KiB) are malformed. Only
// InsecureAllowUnconditional lets an unconditional update through.
//
// The Versioner is asked before the handler runs and its answer decides between 412 and
// the handler's own response, so an If-None-Match: * request learns whether a resource
// exists: run Preconditions after authentication and authorization, and make the
// Versioner apply the same access rules as the handler. StrongETag is a hash of the body:
// for a short or guessable body it lets whoever sees the tag confirm a guess, so prefer
// version tags for PHI. Problem bodies never contain a tag, a version or the Versioner's
// error. If-Modified-Since and If-Unmodified-Since are not evaluated; safe methods pass
// through untouched.
//
// Logs: Config.Logger gets store failures, lost leases and sealing failures by kind only,
// never a key, a principal or a body. A store outage is logged when it starts and when it
// ends, not once a request.
package idempotency
