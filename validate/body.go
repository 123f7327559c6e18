package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
)

// Body is the strict JSON decoder and validator of request bodies of type T. Build it with
// NewBody when the service starts; it is immutable and safe for concurrent use.
//
// A body is accepted when all of these hold, and refused with the error in brackets:
//
//   - exactly one Content-Type header, naming one of Config.MediaTypes, with no charset
//     parameter or charset=utf-8, and no Content-Encoding but identity
//     [ErrUnsupportedMediaType];
//   - at most Config.MaxBytes long [ErrTooLarge];
//   - not empty or only white space [ErrEmptyBody];
//   - one RFC 8259 JSON value and nothing after it but white space: no byte order mark,
//     comments, NaN, Infinity, single quotes or trailing commas [ErrSyntax,
//     ErrTrailingData];
//   - strings in valid UTF-8 with every surrogate escape paired [ErrInvalidUTF8] and no
//     \u0000 [ErrNUL];
//   - objects and arrays nested at most Config.MaxDepth deep [ErrTooDeep];
//   - no object, at any depth, with two members of the same name after unescaping
//     [ErrDuplicateKey];
//   - every member of an object decoded into a struct is the exact, case-sensitive JSON
//     name of one of its fields [ErrUnknownField];
//   - every value fits its field [ErrType]: the JSON type matches (null only where the Go
//     type can be nil: pointers, slices, maps, interfaces; a top-level null never); an
//     integer field gets an integer literal (no fraction or exponent) in its range; a
//     float field gets a number it holds exactly (see below); a json.Number field gets a
//     number, not a string; an array field gets at most its length of elements; a map
//     with integer keys gets keys in canonical decimal form;
//   - T's validate tags hold [ErrConstraint].
//
// A number is held exactly by a float64 (float32) when the float nearest to it, written
// back in its shortest form, is the same decimal number: 0.1, 98.6 and 1.5e300 are
// accepted; 1e400, 1e-400, 9007199254740993 (2^53+1) and 3.14159265358979323846 are
// refused. Use json.Number or a string field for decimals that need more precision.
// Numbers that land in an interface{} (any, map[string]any) are decoded as json.Number,
// never float64.
//
// Inside values of type any, map[string]T and json.RawMessage, and of types with their
// own UnmarshalJSON, member names are not checked against a struct (there is none), but
// the syntax, UTF-8, depth and duplicate rules still apply.
//
// Refusals of the JSON are a *ValidationError whose one entry points at the place of the
// problem; refusals by validate tags have one entry per failing field. A pointer is
// built only from the Go type (JSON names of struct fields) and array indices: it stops
// at a map or generic object, whose member names come from the request, and an unknown
// member is reported at its enclosing object, so no part of the request is ever echoed. A
// problem nested more than 32 levels deep is reported at its ancestor 32 levels down.
type Body[T any] struct {
	g         *Gate
	plan      *plan
	useNumber bool
	check     *validation
}

// NewBody returns the decoder of bodies of type T. It resolves T's JSON fields the way
// encoding/json does and checks T's validate tags (see the Security considerations of
// the package): a misspelt or misused tag is an error here, never a panic in a request.
func NewBody[T any](g *Gate) (*Body[T], error) {
	if g == nil {
		return nil, fmt.Errorf("validate: NewBody: nil Gate")
	}
	t := reflect.TypeFor[T]()
	p, hasAny := newPlan(t)
	check, err := g.newValidation(t)
	if err != nil {
		return nil, err
	}
	check.plan = p
	return &Body[T]{g: g, plan: p, useNumber: hasAny, check: check}, nil
}

// Decode reads r's body and returns it strictly decoded and validated. It returns the
// zero T and an error when the body is refused; hand the error to Gate.Reject to answer.
// The body is consumed. w may be nil; when set, http.MaxBytesReader uses it to close the
// connection after an oversized body.
func (b *Body[T]) Decode(w http.ResponseWriter, r *http.Request) (T, error) {
	v, _, err := b.decode(w, r)
	return v, err
}

// DecodeBytes strictly decodes and validates data as a body of type T, with the Gate's
// size and depth limits but no media type: for messages that do not come from an HTTP
// request. ctx is handed to context-aware validation functions.
func (b *Body[T]) DecodeBytes(ctx context.Context, data []byte) (T, error) {
	if int64(len(data)) > b.g.maxBytes {
		var zero T
		return zero, ErrTooLarge
	}
	return b.unmarshal(ctx, data)
}

// Handler returns middleware that decodes and validates the body before next runs. A
// refused request is answered by Gate.Reject and next does not run. An accepted one
// reaches next with the decoded value in its context (FromContext[T]) and an unread body
// holding the same bytes. Wrap only routes whose requests carry a body: a request without
// one is refused (ErrUnsupportedMediaType without a Content-Type, else ErrEmptyBody).
func (b *Body[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, body, err := b.decode(w, r)
		if err != nil {
			b.g.Reject(w, r, err)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey[T]{}, v))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func (b *Body[T]) decode(w http.ResponseWriter, r *http.Request) (T, []byte, error) {
	var zero T
	if err := b.g.checkMediaType(r.Header); err != nil {
		return zero, nil, err
	}
	body, err := b.g.readBody(w, r)
	if err != nil {
		return zero, nil, err
	}
	v, err := b.unmarshal(r.Context(), body)
	return v, body, err
}

func (b *Body[T]) unmarshal(ctx context.Context, data []byte) (T, error) {
	var v, zero T
	if err := scan(data, b.plan, b.g.maxDepth); err != nil {
		return zero, newValidationError(err.reason, err.pointer())
	}
	var err error
	if b.useNumber {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		err = dec.Decode(&v)
	} else {
		err = json.Unmarshal(data, &v)
	}
	if err != nil {
		// The scan leaves only what a type's own UnmarshalJSON or UnmarshalText refuses.
		// Its text may quote the value: it is not kept.
		return zero, newValidationError(ErrType, "")
	}
	if err := b.check.run(ctx, &v); err != nil {
		return zero, err
	}
	return v, nil
}

// ctxKey is the context key of decoded values of type T.
type ctxKey[T any] struct{}

// FromContext returns the value of type T that a Body[T] or Params[T] Handler decoded for
// the request whose context is ctx, and whether there is one.
func FromContext[T any](ctx context.Context) (T, bool) {
	v, ok := ctx.Value(ctxKey[T]{}).(T)
	return v, ok
}
