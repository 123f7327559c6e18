// Package breakglass is emergency access ("breaking the glass"): a clinician who holds
// an entitled role, has just authenticated with multi-factor authentication, and gives a
// reason code and a written justification, is granted access to one patient's data for
// a bounded time, even where the usual rules (care team, consent) would refuse it. Every
// grant is on the audit trail (DICOM 110127 "Emergency Override Started" and 110138
// "Emergency Override Stopped"), pages someone the moment it opens, and waits in a review
// queue until a privacy officer has looked at it.
//
// Wiring, with grants shared by every replica through PostgreSQL:
//
//	store, err := pgbreakglass.New(pool, pgbreakglass.Config{})
//	if err != nil {
//		return err
//	}
//	if err := store.CreateSchema(ctx); err != nil { // once, at deploy time
//		return err
//	}
//	bg, err := breakglass.New(breakglass.Config{
//		Store:         store,
//		EntitledRoles: []string{"emergency"},
//		Audit:         auditSink, // the same trail as the audit middleware's
//		Alert: func(ctx context.Context, g breakglass.Grant) {
//			pager.Enqueue(g.ID, g.Actor) // fast: a queue, not a network call
//		},
//		Service: "clinic",
//	})
//	if err != nil {
//		return err
//	}
//	mux.Handle("POST /break-glass", bg.Handler()) // behind the audit and authn middleware
//
// Where access is decided (authz), when the ordinary rules refuse:
//
//	g, ok, err := bg.Active(r.Context(), principal, patientID)
//	if err != nil || !ok {
//		// refuse: an error is an unknown answer
//	}
//	// allow, and record g.ID in the request's audit event
//
// And periodically, on one replica or all:
//
//	n, err := bg.SweepExpired(ctx) // writes 110138 for grants that expired unclosed
//
// The privacy officer's side is PendingReview and Review.
//
// # The life of a grant
//
// Open checks, in order: a principal (ErrNoPrincipal), an entitled role
// (ErrNotEntitled), the reason code (ErrInvalidReason), the justification
// (ErrJustificationRequired), the patient id (ErrInvalidPatient), then step-up
// (ErrStepUpRequired: auth_time within MaxAuthAge, amr including "mfa"). It then writes
// the 110127 event, stores the grant, and calls Alert. An actor who already holds an
// active grant for the patient gets that grant back, unchanged.
//
// A grant covers exactly one actor (the token's sub) and one patient, from OpenedAt until
// ExpiresAt (Duration, 15 minutes by default, 4 hours at most), or until its actor closes
// it. Active also requires that the actor still holds an entitled role. A grant is
// never extended: when it runs out, the actor opens another, with a fresh step-up, a
// fresh justification, a fresh event and a fresh alert.
//
// Close (by the grant's own actor) and SweepExpired (for grants that ran out) write the
// 110138 event; each grant gets exactly one, whoever closes it. Nothing happens at the
// moment a grant expires: it simply stops being Active. Until a sweep runs, its stop is
// missing from the trail, so run SweepExpired every minute or so.
//
// # Security considerations
//
// Fail closed. An error from the store makes Active answer with an error, which the
// caller must treat as a refusal, and makes Open open nothing. The 110127 event is
// written before the grant is stored: if the audit sink fails, no grant exists, Open
// returns ErrAudit and the Handler answers 503, so there is never emergency access that
// the trail does not show. If the store fails after the event was written, a 110138
// event (outcome serious-failure) follows it. If the sink fails on Close, the grant is
// closed anyway (access ends) and Close reports ErrAudit.
//
// Step-up. A token says when the user authenticated (auth_time) and how (amr, acr);
// breakglass trusts them as far as the authenticator verified the token, so the
// identity provider must set them truthfully, and auth_time must be the time of the
// last interactive authentication, not of a token refresh. MaxAuthAge is checked when
// the grant opens, not during its use.
//
// Scope. A grant is for one patient, compared exactly, as a FHIR logical id ("pat-3",
// not "Patient/pat-3"): the authorizer must call Active with the id in the same form.
// It grants nothing by itself: what an actor may do under a grant (read only, say) is
// the authorizer's decision. Every request made under a grant should record the grant
// in its own audit event (Type EntityType), so that review sees what was touched.
//
// The justification is free text that may describe a patient's condition. It is kept in
// the grant for the reviewer and nowhere else: not in events, logs, errors or answers.
// Grant's String, Format and LogValue redact it and the patient. Limit who can read the
// store (the grants table) as you would clinical data.
//
// Alert runs synchronously in the actor's request after the grant is stored; a panic is
// recovered and logged, and the grant stays open (it is already on the trail). A slow
// Alert delays the clinician's emergency access: enqueue, do not call out. If the page
// must not be lost, make the queue durable; PendingReview is the backstop.
//
// Review. PendingReview lists every grant not yet reviewed, oldest first. Review
// refuses a reviewer who is the grant's actor (ErrSelfReview); who may review at all is
// the caller's to check. Grants are never deleted, which also keeps the store's memory
// or table growing: archive reviewed grants according to your retention policy.
//
// The Handler is for browsers and apps of the organisation's clinicians: it takes a
// small, strictly parsed JSON body (see Handler) and reflects nothing of it in its
// errors. Protect it against cross-site requests as the rest of the API (a bearer
// token, not a cookie).
package breakglass
