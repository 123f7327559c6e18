package validate

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/phikit/phikit/problem"
)

// Params is the strict decoder and validator of a request's query and path parameters
// into a struct T. Build it with NewParams when the service starts; it is immutable and
// safe for concurrent use.
//
// Each field that takes a parameter names it in a query or path tag, and may carry
// validate tags like any other (the healthcare tags included):
//
//	type ObservationSearch struct {
//		Patient string   `path:"id" validate:"required,fhir_id"`
//		Code    []string `query:"code" validate:"dive,loinc"`
//		Count   *int     `query:"_count" validate:"omitnil,min=1,max=100"`
//		Summary bool     `query:"_summary"`
//	}
//
// A field's type is a string, bool, integer or float kind, a pointer to one (nil when the
// parameter is absent, so that required can tell absent from empty), or, for query
// parameters, a slice of one (one element per occurrence). Fields without a query or path
// tag (or with "-") are left alone. NewParams refuses other types, an empty name, a name
// used twice, and a field with both tags.
//
// A request is accepted when all of these hold, and refused with the error in brackets:
//
//   - the query string is well-formed (url.ParseQuery: valid escapes, no semicolons)
//     [ErrSyntax];
//   - every query parameter is one a field names [ErrUnknownParameter];
//   - a parameter whose field is not a slice appears at most once [ErrRepeatedParameter];
//   - values are valid UTF-8 [ErrInvalidUTF8] without NUL (%00) [ErrNUL];
//   - a bool is exactly true or false, an integer an integer literal in range, a float a
//     number the float holds exactly, each as in a JSON body (no "+1", "007", "1e3" for
//     an integer, "NaN" or "Inf") [ErrType];
//   - T's validate tags hold [ErrConstraint].
//
// Each failing parameter gets one entry pointing at "#/" and its name; an unknown
// parameter, whose name comes from the request, is reported at "#" (the query as a
// whole) without its name. A path value that is empty counts as absent.
type Params[T any] struct {
	g      *Gate
	params []param
	byName map[string]int // query parameter name → params index
	check  *validation
}

// param is one field that takes a parameter.
type param struct {
	name  string
	path  bool
	field int
	ptr   bool // *E: allocated when the parameter is present
	slice bool // []E: one element per occurrence
	elem  reflect.Type
}

// NewParams returns the decoder of parameters into T, which must be a struct. It checks
// T's query, path and validate tags (see NewBody).
func NewParams[T any](g *Gate) (*Params[T], error) {
	if g == nil {
		return nil, fmt.Errorf("validate: NewParams: nil Gate")
	}
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("validate: NewParams: %v is not a struct", t)
	}
	p := &Params[T]{g: g, byName: map[string]int{}}
	names := map[string]string{} // Go field name → parameter name
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		q, isQuery := sf.Tag.Lookup("query")
		pv, isPath := sf.Tag.Lookup("path")
		if !isQuery && !isPath {
			continue
		}
		if isQuery && isPath {
			return nil, fmt.Errorf("validate: %v.%s has both a query and a path tag", t, sf.Name)
		}
		name := q
		if isPath {
			name = pv
		}
		switch {
		case name == "-":
			continue
		case name == "":
			return nil, fmt.Errorf("validate: %v.%s: empty parameter name", t, sf.Name)
		case !sf.IsExported():
			return nil, fmt.Errorf("validate: %v.%s: parameter field is not exported", t, sf.Name)
		case seen[name]:
			return nil, fmt.Errorf("validate: %v.%s: parameter %q is named twice", t, sf.Name, name)
		}
		seen[name] = true
		prm := param{name: name, path: isPath, field: i, elem: sf.Type}
		switch sf.Type.Kind() {
		case reflect.Pointer:
			prm.ptr, prm.elem = true, sf.Type.Elem()
		case reflect.Slice:
			prm.slice, prm.elem = true, sf.Type.Elem()
		}
		if !scalarKind(prm.elem.Kind()) || (prm.slice && isPath) {
			return nil, fmt.Errorf("validate: %v.%s: type %v cannot hold a parameter", t, sf.Name, sf.Type)
		}
		if !isPath {
			p.byName[name] = len(p.params)
		}
		p.params = append(p.params, prm)
		names[sf.Name] = name
	}
	check, err := g.newValidation(t)
	if err != nil {
		return nil, err
	}
	check.names = names
	p.check = check
	return p, nil
}

func scalarKind(k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// Decode returns r's query and path parameters strictly decoded into a T and validated.
// It returns the zero T and an error when they are refused; hand the error to
// Gate.Reject to answer. Path parameters come from r.PathValue, so r must have been
// routed by an http.ServeMux pattern that names them.
func (p *Params[T]) Decode(r *http.Request) (T, error) {
	var v, zero T
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return zero, newValidationError(ErrSyntax, "#")
	}
	var fields []problem.FieldError
	var reason *Error
	refuse := func(e *Error, pointer string) {
		if reason == nil {
			reason = e
		}
		fields = append(fields, problem.FieldError{Pointer: pointer, Rule: e.rule, Detail: e.detail})
	}
	for name := range values {
		if _, ok := p.byName[name]; !ok {
			refuse(ErrUnknownParameter, "#")
			break
		}
	}
	rv := reflect.ValueOf(&v).Elem()
	for i := range p.params {
		prm := &p.params[i]
		var vals []string
		if prm.path {
			s := r.PathValue(prm.name)
			if s == "" {
				continue
			}
			vals = []string{s}
		} else {
			vals = values[prm.name]
		}
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 && !prm.slice {
			refuse(ErrRepeatedParameter, "#/"+prm.name)
			continue
		}
		f := rv.Field(prm.field)
		var e *Error
		switch {
		case prm.slice:
			s := reflect.MakeSlice(f.Type(), len(vals), len(vals))
			for j, val := range vals {
				if e = setParam(s.Index(j), val); e != nil {
					break
				}
			}
			f.Set(s)
		case prm.ptr:
			ptr := reflect.New(prm.elem)
			e = setParam(ptr.Elem(), vals[0])
			f.Set(ptr)
		default:
			e = setParam(f, vals[0])
		}
		if e != nil {
			refuse(e, "#/"+prm.name)
		}
	}
	if reason != nil {
		return zero, &ValidationError{Fields: fields, reason: reason}
	}
	if err := p.check.run(r.Context(), &v); err != nil {
		return zero, err
	}
	return v, nil
}

// Handler returns middleware that decodes and validates the parameters before next runs.
// A refused request is answered by Gate.Reject and next does not run; an accepted one
// reaches next with the decoded value in its context (FromContext[T]).
func (p *Params[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := p.Decode(r)
		if err != nil {
			p.g.Reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey[T]{}, v)))
	})
}

// setParam parses s into v, a scalar of one of the kinds scalarKind accepts.
func setParam(v reflect.Value, s string) *Error {
	if !utf8.ValidString(s) {
		return ErrInvalidUTF8
	}
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
		return nil
	case reflect.Bool:
		switch s {
		case "true":
			v.SetBool(true)
			return nil
		case "false":
			v.SetBool(false)
			return nil
		}
		return ErrType
	}
	lit := []byte(s)
	sc := scanner{data: lit}
	if len(lit) == 0 || (lit[0] != '-' && (lit[0] < '0' || lit[0] > '9')) {
		return ErrType
	}
	_, isInt, err := sc.number()
	if err != nil || sc.pos != len(lit) {
		return ErrType
	}
	bits := v.Type().Bits()
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if !floatExact(lit, bits) {
			return ErrType
		}
		f, _ := strconv.ParseFloat(s, bits)
		v.SetFloat(f)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !isInt || !intFits(lit, bits, true) {
			return ErrType
		}
		n, _ := strconv.ParseInt(s, 10, bits)
		v.SetInt(n)
	default:
		if !isInt || !intFits(lit, bits, false) {
			return ErrType
		}
		n, _ := strconv.ParseUint(s, 10, bits)
		v.SetUint(n)
	}
	return nil
}
