package apikey

import "errors"

// Error is a reason a request failed API-key authentication. The exported values below
// are the complete set; compare with errors.Is. The client gets the same answer for every
// one of them (401, see Config.ErrorHandler); which one it was is recorded only in the
// audit event, as Reason. None carries the key or anything else from the request.
type Error struct {
	reason string
	msg    string
}

func (e *Error) Error() string { return "apikey: " + e.msg }

// Reason returns the stable category recorded in the audit event's Rejection, such as
// "apikey.revoked".
func (e *Error) Reason() string { return "apikey." + e.reason }

// The request carried no key, or a key that is not one.
var (
	// ErrNoKey: the request has no key header.
	ErrNoKey = &Error{"missing", "no api key"}
	// ErrMultipleKeys: the request has the key header more than once.
	ErrMultipleKeys = &Error{"multiple-keys", "more than one api key"}
	// ErrMalformedKey: the header's value is longer than MaxKeyBytes or is not of the
	// form phk_<env>_<id>_<secret>. The store is not consulted.
	ErrMalformedKey = &Error{"malformed", "malformed api key"}
	// ErrWrongEnvironment: the key belongs to another environment ("test" presented to
	// "live"), or its record does.
	ErrWrongEnvironment = &Error{"wrong-environment", "api key of another environment"}
)

// The key was refused. ErrUnknownKey is checked first: the others are reported only for
// a caller that presented the key's exact secret.
var (
	// ErrUnknownKey: no key has this id, or the secret does not match its hash.
	ErrUnknownKey = &Error{"unknown", "unknown api key"}
	// ErrKeyRevoked: the key was revoked.
	ErrKeyRevoked = &Error{"revoked", "api key revoked"}
	// ErrKeyExpired: the key's expiry has passed.
	ErrKeyExpired = &Error{"expired", "api key expired"}
	// ErrAddressNotAllowed: the caller's address is in none of the key's allowed
	// ranges, or could not be determined.
	ErrAddressNotAllowed = &Error{"address-not-allowed", "caller address not allowed for this api key"}
)

// StoreError reports that the key store failed while authenticating a request. The
// request is refused (fail closed) with 503 by the default ErrorHandler; its audit
// Rejection is "apikey.store-unavailable".
type StoreError struct {
	// Err is the store's error. Stores receive only the key id, never the key, so it
	// cannot carry the secret.
	Err error
}

func (e *StoreError) Error() string { return "apikey: key store: " + e.Err.Error() }

// Unwrap returns Err.
func (e *StoreError) Unwrap() error { return e.Err }

// Errors a Store returns; implementations return (or wrap) them so that callers can use
// errors.Is.
var (
	// ErrNotFound: no record has this id.
	ErrNotFound = errors.New("apikey: key not found")
	// ErrExists: Put was given a record whose id is already stored.
	ErrExists = errors.New("apikey: key id already exists")
)

// reason returns the audit Rejection for err.
func reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	var se *StoreError
	if errors.As(err, &se) {
		return "apikey.store-unavailable"
	}
	return "apikey.error"
}
