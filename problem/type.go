package problem

import "net/http"

// Type is the stable URI that identifies one kind of problem, sent as the "type" member.
// Clients and operators may rely on these values: they are part of phikit's API and
// never change meaning. Each resolves (under https://phikit.github.io/problems/) to a page
// describing the problem.
type Type string

// The problem types of phikit's own rejections.
const (
	// Unauthenticated: no credential, or one that could not be verified (401).
	Unauthenticated Type = base + "unauthenticated"
	// Forbidden: the caller is known but may not do this (403).
	Forbidden Type = base + "forbidden"
	// NotFound: no such resource, or one the caller may not learn exists (404).
	NotFound Type = base + "not-found"
	// InvalidRequest: the request is malformed or fails validation (400).
	InvalidRequest Type = base + "invalid-request"
	// PayloadTooLarge: the body exceeds the route's size limit (413).
	PayloadTooLarge Type = base + "payload-too-large"
	// UnsupportedMediaType: the body's Content-Type is not accepted (415).
	UnsupportedMediaType Type = base + "unsupported-media-type"
	// RateLimited: the caller exceeded a rate limit or quota (429).
	RateLimited Type = base + "rate-limited"
	// Conflict: the request conflicts with one in progress or with the current state (409).
	Conflict Type = base + "conflict"
	// PreconditionFailed: If-Match or If-None-Match does not hold (412).
	PreconditionFailed Type = base + "precondition-failed"
	// PreconditionRequired: the route requires a conditional request (428).
	PreconditionRequired Type = base + "precondition-required"
	// Internal: the server failed; nothing about why is disclosed (500).
	Internal Type = base + "internal"
	// Unavailable: a dependency the request needs, such as the audit trail, is down (503).
	Unavailable Type = base + "unavailable"
	// IdempotencyKeyMissing: the route requires an Idempotency-Key header and the request
	// has none (400).
	IdempotencyKeyMissing Type = base + "idempotency-key-missing"
	// IdempotencyKeyInvalid: the Idempotency-Key header is malformed or repeated (400).
	IdempotencyKeyInvalid Type = base + "idempotency-key-invalid"
	// IdempotencyKeyReused: the Idempotency-Key was already used for a different request
	// (another method, path, query or body) (422).
	IdempotencyKeyReused Type = base + "idempotency-key-reused"
	// IdempotencyInProgress: a request with the same Idempotency-Key is still being
	// processed; retry later (409).
	IdempotencyInProgress Type = base + "idempotency-in-progress"
	// IdempotencyNotReplayable: the request with this Idempotency-Key was completed, but its
	// response was not kept (too large to store), so it cannot be replayed; the request is
	// not repeated either (409).
	IdempotencyNotReplayable Type = base + "idempotency-not-replayable"
)

const base = "https://phikit.github.io/problems/"

// typeInfo is what the library says for a type. Everything here is fixed text: nothing
// comes from a request or an error.
type typeInfo struct {
	status int
	title  string
	detail string
	fhir   string // FHIR IssueType code (http://hl7.org/fhir/issue-type)
}

func (t Type) info() typeInfo {
	switch t {
	case Unauthenticated:
		return typeInfo{http.StatusUnauthorized, "Unauthenticated", "The request lacks valid credentials.", "login"}
	case Forbidden:
		return typeInfo{http.StatusForbidden, "Forbidden", "The caller is not permitted to perform this request.", "forbidden"}
	case NotFound:
		return typeInfo{http.StatusNotFound, "Not found", "The requested resource was not found.", "not-found"}
	case InvalidRequest:
		return typeInfo{http.StatusBadRequest, "Invalid request", "The request is malformed or failed validation.", "invalid"}
	case PayloadTooLarge:
		return typeInfo{http.StatusRequestEntityTooLarge, "Payload too large", "The request body exceeds the size limit.", "too-long"}
	case UnsupportedMediaType:
		return typeInfo{http.StatusUnsupportedMediaType, "Unsupported media type", "The request body's media type is not accepted.", "not-supported"}
	case RateLimited:
		return typeInfo{http.StatusTooManyRequests, "Rate limited", "Too many requests; retry later.", "throttled"}
	case Conflict:
		return typeInfo{http.StatusConflict, "Conflict", "The request conflicts with the current state of the resource.", "conflict"}
	case PreconditionFailed:
		return typeInfo{http.StatusPreconditionFailed, "Precondition failed", "The resource has changed since the version the request names.", "conflict"}
	case PreconditionRequired:
		return typeInfo{http.StatusPreconditionRequired, "Precondition required", "This request must be conditional (If-Match).", "required"}
	case Unavailable:
		return typeInfo{http.StatusServiceUnavailable, "Service unavailable", "The service cannot handle the request right now; retry later.", "transient"}
	case IdempotencyKeyMissing:
		return typeInfo{http.StatusBadRequest, "Idempotency-Key required", "This request requires an Idempotency-Key header.", "required"}
	case IdempotencyKeyInvalid:
		return typeInfo{http.StatusBadRequest, "Invalid Idempotency-Key", "The Idempotency-Key header must be one string of 1 to 255 printable ASCII characters.", "invalid"}
	case IdempotencyKeyReused:
		return typeInfo{http.StatusUnprocessableEntity, "Idempotency-Key reused", "This Idempotency-Key was already used for a different request.", "business-rule"}
	case IdempotencyInProgress:
		return typeInfo{http.StatusConflict, "Request in progress", "A request with this Idempotency-Key is still being processed; retry later.", "conflict"}
	case IdempotencyNotReplayable:
		return typeInfo{http.StatusConflict, "Response not replayable", "The request with this Idempotency-Key was completed, but its response cannot be replayed; it was not repeated.", "business-rule"}
	default: // Internal, and any Type this package does not define
		return typeInfo{http.StatusInternalServerError, "Internal error", "The server could not complete the request.", "exception"}
	}
}

// Status returns the HTTP status code of t. A Type this package does not define has the
// status of Internal.
func (t Type) Status() int { return t.info().status }

// Title returns the fixed, human-readable summary of t.
func (t Type) Title() string { return t.info().title }

// Known reports whether t is one of the types this package defines.
func (t Type) Known() bool {
	return t == Internal || t.info().status != http.StatusInternalServerError
}
