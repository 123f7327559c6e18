// Package problem writes phikit's error responses: RFC 9457 problem details
// (application/problem+json), or a FHIR OperationOutcome (application/fhir+json) when the
// client's Accept header asks for FHIR JSON.
//
// Every middleware in phikit rejects a request through this package (or through a
// Config.ErrorHandler that replaces it), so a client sees one shape of error everywhere:
//
//	{"type":"https://phikit.github.io/problems/forbidden","title":"Forbidden","status":403,
//	 "detail":"The caller is not permitted to perform this request.",
//	 "instance":"urn:phikit:request:4bf9…-53995c3f42cd8ad8","request_id":"4bf9…-53995c3f42cd8ad8"}
//
// A handler uses it the same way:
//
//	if !found {
//		problem.Write(w, r, problem.NotFound)
//		return
//	}
//
// The Type constants are stable: clients may branch on them.
//
// # Security considerations
//
// A problem body carries only fixed text chosen by this package (type, title, status,
// detail) and the request id. It never carries anything taken from the request — a path,
// a parameter, a header, a body field — nor an error's text nor a stack trace, because
// those can hold PHI, tokens, or details that help an attacker. The request id lets an
// operator find the full story in the audit trail and the operational logs.
//
// Responses carry Cache-Control: no-store and X-Content-Type-Options: nosniff, and lose
// any Content-Encoding, Content-Length, ETag or Last-Modified header a handler had set for
// the body it did not send.
package problem
