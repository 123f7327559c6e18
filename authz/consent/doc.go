// Package consent answers whether a patient has consented to an access: may this actor
// (or its organization) see this patient's data of this category for this purpose? It
// is a simplified FHIR Consent: each Rule is one provision that permits or denies, and
// a Store answers a Query with Permit, Deny or NoConsent and the ids of the rules that
// decided, for the audit event's reasons.
//
// MemoryStore keeps the rules in the process; pgconsent keeps them in PostgreSQL,
// shared by every replica. Other stores implement Store and Admin and pass the
// conformance suite consenttest.
//
//	store, err := pgconsent.New(ctx, pool, pgconsent.Config{}) // or consent.NewMemoryStore(nil)
//	if err != nil {
//		return err
//	}
//	// Where a consent is recorded or withdrawn (the patient portal, a FHIR Consent update):
//	err = store.Put(ctx, consent.Rule{ID: "consent-17#2", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny})
//	err = store.Revoke(ctx, "consent-17#2", time.Time{})
//	// On every request, once the principal, the patient and the purpose are known:
//	p, _ := authn.FromContext(r.Context())
//	d, reasons, err := store.Decide(r.Context(), consent.Query{
//		Patient:           patientID,                   // from the route, after patient binding
//		Actor:             p.FHIRUser,                  // "Practitioner/prac-1", from the token
//		ActorOrganization: directory.OrgOf(p.FHIRUser), // trusted, never from the request
//		Purpose:           purpose,                     // "TREAT", validated
//		Category:          "Observation",               // the resource type, or a security label
//	})
//	if err != nil || d == consent.Deny {
//		// refuse, and record "consent.deny" with reasons (the rule ids) in the audit event
//	}
//	// d == consent.NoConsent: the route's own policy decides (implied consent for
//	// treatment, say, but not for research).
//
// # Decisions
//
// Decide considers the active rules of q.Patient (those whose Revoked is zero) and keeps
// those that apply to q: a rule applies when each of its Actor, Purpose and Category is
// empty (any) or equal to q's, where the rule's Actor may equal either q.Actor or
// q.ActorOrganization (when that is set). Rule.Applies is this test. Then:
//
//   - if any rule that applies denies, the answer is Deny, with the ids of the rules
//     that apply and deny (deny overrides: a patient-wide Deny beats a Permit written
//     for the very actor, purpose and category, and an organization's Deny beats its
//     practitioner's Permit);
//   - else, if any rule that applies permits, the answer is Permit, with the ids of the
//     rules that apply and permit;
//   - else the answer is NoConsent, with no ids.
//
// The ids come sorted in byte order. Rules of other patients never apply. Values are
// compared exactly, byte for byte: "TREAT" is not "treat", "Practitioner/prac-1" is not
// "Practitioner/prac-10", and no character is a wildcard. Every field of a Query and a
// Rule holds at most MaxFieldLength bytes of UTF-8 without control characters. A Query
// without Patient, Actor, Purpose or Category is refused (ErrInvalidQuery); so is a Rule
// without ID or Patient, or whose Decision is neither Permit nor Deny (ErrInvalidRule).
//
// Put replaces the rule with the same id; Revoke marks a rule revoked. A revoked rule
// never applies again: it cannot be replaced (ErrRuleRevoked) and stays in the store as
// the record of the withdrawal.
//
// # Security considerations
//
// No cache: revocation is immediate. A Store reads its rules on every Decide; a rule
// revoked (or a Deny put) through any replica applies to the next query of every replica
// over the same data. Do not put a cache in front of a Store: it would keep serving a
// withdrawn consent. Rule.Revoked is the record of when, not a schedule: a rule with a
// non-zero Revoked never applies, whatever the clocks of the replicas say.
//
// Deny overrides. One Deny that applies is enough, whatever permits. Leaving
// ActorOrganization empty skips the organization's rules, its denies included: set it
// whenever the actor's organization is known, from a trusted source.
//
// Errors deny. Decide's error means the answer is unknown (the database is down, the
// context is done, the query is malformed): the caller must refuse. Decide then returns
// Deny as well, so that a caller that forgets to check the error still refuses.
//
// Trusted inputs. Actor and ActorOrganization must come from the authenticated
// principal or a directory the service trusts, Patient from the route after patient
// binding, Purpose after validation against the PurposeOfUse codes: a caller that
// chooses its own organization or purpose chooses which consents apply.
//
// Consent data is PHI. That a patient denies research, or withholds a category from a
// named practitioner, says something about the patient. Queries and rules print and log
// with Patient and Actor redacted; errors of this package name the field at fault,
// never its value. Protect the store's backend (access, encryption, backups) as the
// clinical data it guards, and audit its changes.
package consent
