package validate

import (
	"strings"

	"github.com/phikit/phikit/problem"
)

// Error is one of the fixed reasons this package refuses input. The exported values below
// are the complete set; compare with errors.Is. No Error carries anything from the request:
// the message names the condition only.
type Error struct {
	rule   string // stable name: problem.FieldError.Rule and the audit category suffix
	msg    string // the error text, after "validate: "
	detail string // the fixed client-facing explanation (problem.FieldError.Detail)
}

func (e *Error) Error() string { return "validate: " + e.msg }

// Rule returns the stable name of the reason ("unknown-field", "too-large", …). It is the
// Rule of the problem.FieldError a refusal carries (except for ErrConstraint, whose
// entries name the validator tag that failed), and the audit event records
// "validate." + Rule() as its Rejection.
func (e *Error) Rule() string { return e.rule }

// Refusals before the body is parsed.
var (
	// ErrUnsupportedMediaType: the request has no Content-Type, more than one, one that is
	// not in Config.MediaTypes, a charset other than utf-8, or a Content-Encoding other
	// than identity. The default ErrorHandler answers 415.
	ErrUnsupportedMediaType = &Error{"media-type", "unsupported media type", "The request body's media type is not accepted."}
	// ErrTooLarge: the body (or its Content-Length) exceeds Config.MaxBytes. The default
	// ErrorHandler answers 413.
	ErrTooLarge = &Error{"too-large", "request body too large", "The request body exceeds the size limit."}
	// ErrReadBody: reading the body failed (the client went away, a read timeout). Errors
	// returned for it wrap the cause after ErrReadBody. The default ErrorHandler answers 400.
	ErrReadBody = &Error{"read-error", "reading the request body failed", "The request body could not be read."}
)

// Refusals of the body's JSON. Each comes inside a *ValidationError that points at the
// place in the body where the problem was found.
var (
	// ErrEmptyBody: the body is empty or only white space.
	ErrEmptyBody = &Error{"empty-body", "empty request body", "The request body is empty."}
	// ErrSyntax: the body is not well-formed JSON (RFC 8259). Comments, a byte order mark,
	// NaN, Infinity, single quotes and trailing commas all land here. For query
	// parameters: the query string is not well-formed.
	ErrSyntax = &Error{"syntax", "malformed JSON", "The input is not well-formed at this location."}
	// ErrTooDeep: objects and arrays are nested more deeply than Config.MaxDepth.
	ErrTooDeep = &Error{"too-deep", "JSON nested too deeply", "Objects and arrays are nested more deeply than allowed."}
	// ErrDuplicateKey: an object has two members with the same name (after unescaping).
	ErrDuplicateKey = &Error{"duplicate-key", "duplicate object member", "The object has more than one member with this name."}
	// ErrUnknownField: an object has a member its Go struct does not define. Names are
	// matched exactly: a member that differs from a field's name only in case is unknown.
	ErrUnknownField = &Error{"unknown-field", "unknown object member", "The object has a member that is not defined here; member names are case-sensitive."}
	// ErrType: a value has a JSON type its field cannot hold (a string for a number, null
	// for a non-pointer), or a number the field cannot hold exactly (a fraction for an
	// integer, out of range, more precision than a float has).
	ErrType = &Error{"type", "value of the wrong type", "The value has the wrong type, or a number that the field cannot hold exactly."}
	// ErrTrailingData: something other than white space follows the JSON value.
	ErrTrailingData = &Error{"trailing-data", "data after the JSON value", "The body continues after its JSON value."}
	// ErrInvalidUTF8: a string is not valid UTF-8, or has an unpaired surrogate escape
	// (\ud800).
	ErrInvalidUTF8 = &Error{"invalid-utf8", "invalid UTF-8", "A string is not valid UTF-8 or has an unpaired surrogate."}
	// ErrNUL: a string contains U+0000 (escaped as \u0000, or %00 in a parameter).
	ErrNUL = &Error{"nul-character", "NUL character in a string", "A string contains the NUL character, which is not accepted."}
)

// Refusals by the validator and of parameters.
var (
	// ErrConstraint: the decoded value breaks a `validate` tag. The *ValidationError's
	// entries name the tag that failed as their Rule ("required", "loinc", …).
	ErrConstraint = &Error{"constraint", "value breaks a validation rule", "The value does not satisfy this rule."}
	// ErrUnknownParameter: the query has a parameter the parameter struct does not define.
	ErrUnknownParameter = &Error{"unknown-parameter", "unknown query parameter", "The query has a parameter that is not defined here."}
	// ErrRepeatedParameter: a parameter that takes one value is given more than once.
	ErrRepeatedParameter = &Error{"repeated-parameter", "repeated query parameter", "The parameter is given more than once but takes a single value."}
)

// ErrInternal: validation could not run (a validator function panicked). It says nothing
// about the input; the default ErrorHandler answers 500 and Config.Logger gets the panic's
// type.
var ErrInternal = &Error{"internal", "validation failed internally", "The server could not validate the request."}

// ValidationError is a refusal of the input with one entry per failing field. Each entry
// points at the field (a JSON Pointer into the body, or "#/" and the parameter's name) and
// names the rule and a fixed explanation; none carries the field's value, and neither
// does Error(). Unwrap returns the reason, one of this package's *Error values, so that
// errors.Is(err, ErrUnknownField) works.
//
// Errors from the validator itself (validator.ValidationErrors, which hold the values) are
// never wrapped.
type ValidationError struct {
	// Fields are the failing fields. A refusal of the JSON structure has exactly one, at
	// the place the problem was found; a refusal by validate tags has one per field (per
	// element, under dive) in struct order.
	Fields []problem.FieldError
	reason *Error
}

func newValidationError(reason *Error, pointer string) *ValidationError {
	return &ValidationError{
		Fields: []problem.FieldError{{Pointer: pointer, Rule: reason.rule, Detail: reason.detail}},
		reason: reason,
	}
}

// Error lists the reason and each field's pointer and rule, never a value.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.reason.Error())
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		if f.Pointer == "" {
			b.WriteString("(body)")
		} else {
			b.WriteString(f.Pointer)
		}
		b.WriteString(" ")
		b.WriteString(f.Rule)
	}
	return b.String()
}

// Unwrap returns the reason: one of this package's *Error values.
func (e *ValidationError) Unwrap() error { return e.reason }
