package audit

import "errors"

// ErrSinkFailed reports that an event could not be written to a required sink. Sinks may
// wrap it; the middleware refuses requests while the audit trail is failing.
var ErrSinkFailed = errors.New("audit: sink failed")

// ErrUnavailable is what the middleware hands its ErrorHandler when it refuses a request
// because the audit trail is failing.
var ErrUnavailable = errors.New("audit: audit trail unavailable")

// ErrPanic is what the middleware hands its ErrorHandler when the handler panicked before
// writing a response.
var ErrPanic = errors.New("audit: handler panicked")
