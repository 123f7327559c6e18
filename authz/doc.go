// Package authz decides what an authenticated caller may do to which patient's data, and
// why: SMART on FHIR v2 scopes, patient binding, care-team relationships, consent,
// purpose of use, break-glass, roles and attribute policies, and minimum-necessary field
// withholding — default deny, every decision explained in the audit event.
//
//	roles, _ := authz.RolePolicy(map[string][]string{"physician": {"*.cruds"}, "billing": {"Patient.r"}})
//	az, err := authz.New(authz.Config{
//		CareTeam:       directory,               // is this practitioner on the patient's care team?
//		Consent:        consentStore,            // package consent: memory or PostgreSQL
//		BreakGlass:     bg,                      // package breakglass
//		Policies:       []authz.Policy{roles},
//		DefaultPurpose: "TREAT",
//		Withhold:       map[string][]string{"HPAYMT": {"Patient.identifier", "Patient.address"}},
//	})
//	if err != nil {
//		return err
//	}
//	mux.Handle("/fhir/", auth.Handler(az.Handler(audit.RecordRoute(fhirMux))))
//
// # How a request is decided
//
// The Authorizer runs after authn (it needs the authn.Principal) and:
//
//  1. resolves the request to a FHIR interaction, type and id (FHIRResolver; a path it
//     cannot read, an encoded slash, a type in the wrong case, an operation, is refused;
//     a batch or transaction bundle is decided entry by entry);
//  2. takes the purpose of use from the token's purpose_of_use claim (the header
//     X-Purpose-Of-Use may pick among the token's purposes), else from the header (one
//     value), else DefaultPurpose — always an accepted HL7 PurposeOfUse code;
//  3. collects the patients the request names: the path (Patient/{id}), search
//     parameters (patient, subject, _id — in the query and in a POST _search form body),
//     for create, update and patch every Patient reference anywhere in the body (parsed
//     strictly: duplicate or case-variant member names, and Patient references it cannot
//     resolve, refuse the request; the body is restored for the handler), and for an
//     instance of another type the patient Config.Compartment says owns it — without a
//     Compartment, writes by id to other types are refused;
//  4. finds a scope granting the interaction's permission (c, r, u, d or s; write never
//     implies read), trying system/, then user/, then patient/ scopes. None: 403 with
//     WWW-Authenticate: Bearer error="insufficient_scope", scope="<what was needed>";
//  5. applies the context: a patient/ scope reaches only the token's patient — any other
//     patient named anywhere is refused with 404 (BindingStatus), a search naming none is
//     narrowed to it, a search with _include, _revinclude, _has, chains or modifiers on
//     patient parameters is refused, and a read by id of another type, or a history, is
//     checked on the way out; a user/ scope reaches exactly one named patient, and only
//     when the user is on the patient's care team (CareTeam) or holds an open break-glass
//     grant for them; a system/ scope reaches any patient. A scope with query constraints
//     allows searches only: narrowed by its constraints, and every resource returned is
//     checked against them (token parameters category, code, status and type; a scope
//     constrained on anything else is refused);
//  6. asks Consent for user/ and system/ access, for every patient named (a deny
//     refuses); with Consent configured, a search naming no patient is refused;
//  7. evaluates Policies (RolePolicy and your own; OPA or Cedar fit behind Policy),
//     combined deny-overrides;
//  8. (per route) RequirePurpose admits only requests decided under given purposes;
//  9. records the Decision — allow or deny, with its reasons, the purpose, the patient,
//     a break-glass grant — in the audit event, and carries out obligations: search
//     narrowing (the handler sees the narrowed query; FromContext tells it), fields
//     withheld for the purpose of use, the response's patient check.
//
// # Security considerations
//
// Everything not explicitly allowed is refused, and every dependency that fails — the
// care-team directory, the consent store, the break-glass store, a policy — refuses the
// request (503). Consent is asked on every request: a revocation applies to the next one.
//
// Patient binding answers 404 rather than 403 so that a patient app cannot learn which
// ids exist. The decision's reasons go to the audit trail only; a client sees a problem
// type and, for a missing scope, the scope it would need.
//
// Obligations that inspect or rewrite responses buffer them (up to MaxBodyBytes); a
// response that cannot be checked is not sent (500). Handlers on such routes cannot
// stream.
//
// A purpose of use in the token is the issuer's assertion; one in the request header
// alone is the client's: Policies can require particular clients or roles for sensitive
// purposes, and the audit trail records it for review.
//
// A batch or transaction bundle (POST to the base) is allowed only when every entry, at
// most 100, is allowed as if sent alone; an entry that would need an obligation (search
// narrowing, withheld fields, a response check) refuses the bundle, since inside it the
// obligation could not be carried out.
package authz
