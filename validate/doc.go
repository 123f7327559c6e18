// Package validate is the input gate in front of a service's handlers: a strict JSON body
// decoder, query and path parameter decoding, and validator/v10 with a healthcare tag pack
// (npi, loinc, fhir_datetime, …), answering every refusal with RFC 9457 problem details
// that point at the failing fields without ever repeating their values.
//
// encoding/json, left to itself, accepts duplicate member names (the last wins), matches
// names case-insensitively, ignores unknown members, accepts data after the value with a
// Decoder, replaces invalid UTF-8 and lone surrogates with U+FFFD, rounds numbers to the
// nearest float and decodes null into a non-pointer as "no change". Each of these lets
// a request mean one thing to this service and another to a proxy, a validator or a
// downstream system that reads the same bytes. A Body checks the raw JSON against the
// target type in one pass before encoding/json decodes it, and refuses all of them.
//
// # Wiring
//
// Build one Gate when the service starts, a Body or Params per route type, and wrap the
// routes; the handler reads the decoded value from its context:
//
//	type Observation struct {
//		ResourceType string `json:"resourceType" validate:"required,eq=Observation"`
//		Status       string `json:"status" validate:"required,oneof=registered preliminary final amended"`
//		Code         struct {
//			Coding []struct {
//				System string `json:"system" validate:"required,eq=http://loinc.org"`
//				Code   string `json:"code" validate:"required,loinc"`
//			} `json:"coding" validate:"required,min=1,dive"`
//		} `json:"code"`
//		EffectiveDateTime string `json:"effectiveDateTime" validate:"required,fhir_datetime"`
//	}
//
//	gate, err := validate.New(validate.Config{}) // 64 KiB, depth 64, JSON and FHIR JSON
//	if err != nil {
//		return err
//	}
//	observations, err := validate.NewBody[Observation](gate) // a misspelt tag fails here
//	if err != nil {
//		return err
//	}
//	mux.Handle("POST /fhir/Observation", observations.Handler(http.HandlerFunc(
//		func(w http.ResponseWriter, r *http.Request) {
//			obs, _ := validate.FromContext[Observation](r.Context())
//			// obs is decoded and valid; r.Body still holds the same bytes, unread.
//		})))
//
// Handlers that decode themselves use the function form and answer refusals with the
// Gate, which records the rejection in the audit event:
//
//	obs, err := observations.Decode(w, r)
//	if err != nil {
//		gate.Reject(w, r, err)
//		return
//	}
//
// The Gate sits after authentication and authorization in the recommended chain (see
// the root package): an unauthenticated caller should learn nothing from the schema.
//
// # Errors
//
// A refusal is a fixed *Error (ErrTooLarge, ErrUnsupportedMediaType, …) or a
// *ValidationError wrapping one (ErrUnknownField, ErrDuplicateKey, ErrConstraint, …) with
// one problem.FieldError per failing field: a JSON Pointer ("/code/coding/0/code"), the
// rule ("unknown-field", "duplicate-key", "type", "too-deep", "trailing-data",
// "invalid-utf8", or the validate tag that failed: "required", "loinc"), and a fixed
// sentence. The default ErrorHandler writes them as problem+json (or a FHIR
// OperationOutcome for FHIR clients): 400, 413 or 415. The audit event's Rejection is
// "validate." plus the reason's rule: "validate.unknown-field", "validate.too-large",
// "validate.constraint".
//
// # Security considerations
//
// Nothing from the request reaches a response, an error's text or a log line: no value,
// and no member or parameter name that the service does not itself define. A pointer is
// made of the struct's JSON names and array indices only; it stops at a map or generic
// object and names the enclosing object for an unknown member. The fixed messages depend
// on the rule alone. validator's own errors, which carry the values, are converted and
// dropped, and encoding/json's, which quote them, are never kept. An SSN in an
// unknown field, or an NPI that fails its check digit, is not echoed.
//
// Limits come before work: the media type and Content-Length are checked before the body
// is read, the read stops at Config.MaxBytes, and the scan stops at Config.MaxDepth
// before the Go stack grows with the input, so a 100,000-deep array costs microseconds.
// The whole body (at most MaxBytes) is held in memory.
//
// NUL (\u0000) is refused in strings: it truncates strings in C-based systems and
// PostgreSQL rejects it in text and jsonb, so accepting it would let a request pass here
// and fail, or be cut short, further on. Lone surrogates are refused rather than replaced.
//
// Numbers are never rounded silently: see Body for the exact rule. Numbers inside an
// interface{} are decoded as json.Number.
//
// validator/v10 panics on an undefined or misused tag. NewBody and NewParams run the
// validator over a zero value and a filled-in sample of every struct type reachable from
// T, so those panics happen at start-up and come back as errors; at request time a panic
// inside the validator is recovered, logged and answered 500 (ErrInternal). The
// healthcare tag pack replaces validator's built-in ssn, which accepts impossible numbers.
//
// The check digits of the healthcare tags catch typing errors, not fraud: an NPI or a
// LOINC code that passes may still not exist. Looking codes up is the service's job.
//
// Inside json.RawMessage, any, and types with their own UnmarshalJSON or UnmarshalText,
// member names are not checked (there is no struct to check them against) and the type's
// own parser decides what it accepts; syntax, UTF-8, depth and duplicate members are
// still checked. Keys of maps keyed by an encoding.TextUnmarshaler are checked for
// duplicates as text: two spellings of the same key ("::1", "0::1") are not caught.
package validate
