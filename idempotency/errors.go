package idempotency

import "errors"

// Errors the middleware hands to Config.ErrorHandler. The default handler answers each with
// the problem type named in its comment; none carries anything from the request.
var (
	// ErrInvalidConfig is wrapped by the errors New and NewMemoryStore return.
	ErrInvalidConfig = errors.New("idempotency: invalid config")

	// ErrUnauthenticated: Config.Key reported no principal, so the request could not be
	// scoped (401, problem.Unauthenticated).
	ErrUnauthenticated = errors.New("idempotency: no principal to scope the key")
	// ErrMissingKey: the route requires an Idempotency-Key and the request has none (400,
	// problem.IdempotencyKeyMissing).
	ErrMissingKey = errors.New("idempotency: missing Idempotency-Key")
	// ErrInvalidKey: the Idempotency-Key header is malformed or repeated (400,
	// problem.IdempotencyKeyInvalid). ParseKey returns it too.
	ErrInvalidKey = errors.New("idempotency: invalid Idempotency-Key")
	// ErrBodyTooLarge: the request body exceeds Config.MaxBodyBytes (413,
	// problem.PayloadTooLarge).
	ErrBodyTooLarge = errors.New("idempotency: request body too large")
	// ErrReadBody: the request body could not be read (400, problem.InvalidRequest).
	ErrReadBody = errors.New("idempotency: cannot read request body")
	// ErrKeyReused: the key was already used for a request with another fingerprint (422,
	// problem.IdempotencyKeyReused).
	ErrKeyReused = errors.New("idempotency: key reused for a different request")
	// ErrInProgress: the request that first used the key is still running (409,
	// problem.IdempotencyInProgress, with Retry-After).
	ErrInProgress = errors.New("idempotency: request in progress")
	// ErrNotReplayable: the first request completed but its response was not stored (409,
	// problem.IdempotencyNotReplayable).
	ErrNotReplayable = errors.New("idempotency: response not replayable")
	// ErrReplayFailed: the stored response could not be opened or decoded, for example
	// because the sealing key was rotated away (500, problem.Internal). The handler is not
	// run again.
	ErrReplayFailed = errors.New("idempotency: stored response cannot be replayed")
	// ErrStoreUnavailable: the store failed, so the request was refused rather than run
	// unprotected (503, problem.Unavailable, with Retry-After).
	ErrStoreUnavailable = errors.New("idempotency: store unavailable")

	// ErrStoreFull is returned by MemoryStore when it holds its maximum of records or
	// bytes; the middleware answers 503.
	ErrStoreFull = errors.New("idempotency: store full")
)

// Values recorded in audit.Event.Rejection for refused requests, and in audit.Event.Notes.
const (
	RejectionUnauthenticated = "idempotency.unauthenticated"
	RejectionMissingKey      = "idempotency.missing-key"
	RejectionInvalidKey      = "idempotency.invalid-key"
	RejectionBodyTooLarge    = "idempotency.body-too-large"
	RejectionReadBody        = "idempotency.read-body"
	RejectionKeyReused       = "idempotency.key-reused"
	RejectionInProgress      = "idempotency.in-progress"
	RejectionNotReplayable   = "idempotency.not-replayable"
	RejectionReplayFailed    = "idempotency.replay-failed"
	RejectionUnavailable     = "idempotency.unavailable"

	// NoteReplay is added to audit.Event.Notes when a stored response is replayed.
	NoteReplay = "idempotency.replay"
	// NoteNotStored is added when the handler's response was answered but not stored as
	// replayable (too large, or a store that refused it).
	NoteNotStored = "idempotency.not-stored"
	// NoteReleased is added when the key was released so that the client may retry (a
	// 5xx, 408 or 429, a panic, or a cancelled request with no response).
	NoteReleased = "idempotency.released"
)
