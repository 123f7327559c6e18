package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/phikit/phikit/problem"
)

// validation is how values of one type are handed to the validator, decided once when a
// Body or Params is built.
type validation struct {
	g      *Gate
	mode   validationMode
	direct bool   // the type itself is a struct: hand the validator the pointer as it is
	prefix string // what the validator puts before the fields in a namespace ("Observation.")
	plan   *plan  // maps namespaces to JSON Pointers; nil for Params, which use names
	names  map[string]string
}

type validationMode uint8

const (
	validateNothing validationMode = iota // no struct inside: nothing to validate
	validateStruct                        // v.StructCtx on the (dereferenced) struct
	validateDive                          // v.VarCtx(value, "dive") on a slice, array or map
)

// newValidation checks the validate tags of every struct type reachable from t and
// decides how values of t are validated. A misspelt tag, a tag used on a kind it does not
// support, a malformed parameter: the panics validator would raise on the first request
// become an error here.
//
// The check runs the validator on a zero value and on a filled-in sample (every field set,
// every pointer allocated, every slice and map given one element) of each struct type,
// and of t itself, recovering any panic: so struct-level validation functions
// (RegisterStructValidation) run on those samples too, and must not have side effects.
func (g *Gate) newValidation(t reflect.Type) (*validation, error) {
	val := &validation{g: g}
	base := t
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch base.Kind() {
	case reflect.Struct:
		val.mode, val.direct = validateStruct, t == base
		if base.Name() != "" {
			val.prefix = base.Name() + "."
		}
	case reflect.Slice, reflect.Array, reflect.Map:
		val.mode = validateDive
	}
	var structs []reflect.Type
	collectStructs(t, map[reflect.Type]bool{}, &structs)
	for _, st := range structs {
		if err := g.tryValidate(reflect.New(st).Interface(), ""); err != nil {
			return nil, fmt.Errorf("validate: %v: %w", st, err)
		}
		for _, dyn := range jsonDynamicValues() {
			v := reflect.New(st)
			fill(v.Elem(), map[reflect.Type]bool{}, dyn)
			if err := g.tryValidate(v.Interface(), ""); err != nil {
				return nil, fmt.Errorf("validate: %v: %w", st, err)
			}
		}
	}
	if val.mode == validateStruct {
		// A struct the validator will not take (time.Time and its kin) has nothing to check.
		var ive *validator.InvalidValidationError
		if errors.As(g.v.Struct(reflect.New(base).Interface()), &ive) {
			val.mode = validateNothing
		}
	}
	if val.mode == validateDive {
		if err := g.tryValidate(reflect.New(base).Elem().Interface(), "dive"); err != nil {
			return nil, fmt.Errorf("validate: %v: %w", t, err)
		}
		for _, dyn := range jsonDynamicValues() {
			v := reflect.New(base).Elem()
			fill(v, map[reflect.Type]bool{}, dyn)
			if err := g.tryValidate(v.Interface(), "dive"); err != nil {
				return nil, fmt.Errorf("validate: %v: %w", t, err)
			}
		}
	}
	return val, nil
}

// tryValidate runs the validator on v (with tag, as a variable, when tag is not empty)
// and returns its panic as an error; validation failures are ignored.
func (g *Gate) tryValidate(v any, tag string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("invalid validate tag: %v", p)
		}
	}()
	if tag != "" {
		_ = g.v.Var(v, tag)
	} else {
		_ = g.v.Struct(v)
	}
	return nil
}

// collectStructs appends the struct types the validator may meet in a value of type t.
func collectStructs(t reflect.Type, seen map[reflect.Type]bool, out *[]reflect.Type) {
	if seen[t] {
		return
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array:
		collectStructs(t.Elem(), seen, out)
	case reflect.Map:
		collectStructs(t.Key(), seen, out)
		collectStructs(t.Elem(), seen, out)
	case reflect.Struct:
		*out = append(*out, t)
		for i := range t.NumField() {
			if sf := t.Field(i); sf.IsExported() || sf.Anonymous {
				collectStructs(sf.Type, seen, out)
			}
		}
	}
}

// jsonDynamicValues are the values a JSON body can put in an interface field: the
// samples are filled with each in turn, so that a tag that panics on one of them (min on
// a bool, unique on mixed elements) is refused at start-up, not hit by a client.
func jsonDynamicValues() []any {
	return []any{"x", json.Number("1"), true, map[string]any{"x": "x"}, []any{"x", map[string]any{"x": "x"}}}
}

// fill sets every settable part of v to a non-zero value, so that every validation
// function (each of which panics on a kind it does not support) runs; interface fields
// get dyn. Recursive types are filled one level deep.
func fill(v reflect.Value, onPath map[reflect.Type]bool, dyn any) {
	t := v.Type()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Complex64, reflect.Complex128:
		v.SetComplex(1)
	case reflect.Pointer:
		if onPath[t.Elem()] {
			return
		}
		p := reflect.New(t.Elem())
		fill(p.Elem(), onPath, dyn)
		v.Set(p)
	case reflect.Slice:
		if onPath[t.Elem()] {
			return
		}
		s := reflect.MakeSlice(t, 1, 1)
		fill(s.Index(0), onPath, dyn)
		v.Set(s)
	case reflect.Array:
		if t.Len() > 0 {
			fill(v.Index(0), onPath, dyn)
		}
	case reflect.Map:
		if onPath[t.Elem()] || onPath[t.Key()] {
			return
		}
		k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		fill(k, onPath, dyn)
		fill(e, onPath, dyn)
		m := reflect.MakeMapWithSize(t, 1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		if dv := reflect.ValueOf(dyn); dv.IsValid() && dv.Type().AssignableTo(t) {
			v.Set(dv)
		}
	case reflect.Struct:
		onPath[t] = true
		for i := range t.NumField() {
			f := v.Field(i)
			switch {
			case f.CanSet():
				fill(f, onPath, dyn)
			case t.Field(i).Anonymous && f.Kind() == reflect.Struct:
				fill(f, onPath, dyn) // an unexported embedded struct: its exported fields are settable
			}
		}
		delete(onPath, t)
	}
}

// run validates the value v (a pointer to the decoded value) points to. It never panics: a panic inside the validator is
// logged and returned as ErrInternal.
func (val *validation) run(ctx context.Context, v any) (err error) {
	if val.mode == validateNothing {
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			// The panic's type only: its text may quote the value being validated.
			val.g.logger.ErrorContext(ctx, "validate: validator panicked", "panic_type", fmt.Sprintf("%T", p))
			err = ErrInternal
		}
	}()
	switch {
	case val.direct:
		err = val.g.v.StructCtx(ctx, v)
	default:
		rv := reflect.ValueOf(v).Elem()
		for rv.Kind() == reflect.Pointer {
			if rv.IsNil() {
				return nil
			}
			rv = rv.Elem()
		}
		if val.mode == validateStruct {
			err = val.g.v.StructCtx(ctx, rv.Addr().Interface())
		} else {
			err = val.g.v.VarCtx(ctx, rv.Interface(), "dive")
		}
	}
	if err == nil {
		return nil
	}
	return val.convert(err)
}

// convert turns the validator's errors into a *ValidationError: one entry per failing
// field, with its pointer and tag, never its value.
func (val *validation) convert(err error) error {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		val.g.logger.Error("validate: unexpected validator error", "type", fmt.Sprintf("%T", err))
		return ErrInternal
	}
	fields := make([]problem.FieldError, 0, len(ves))
	for _, fe := range ves {
		ns := strings.TrimPrefix(fe.StructNamespace(), val.prefix)
		var ptr string
		if val.plan != nil {
			ptr = val.plan.pointerFor(ns)
		} else {
			ptr = val.paramPointer(ns)
		}
		f := problem.FieldError{Pointer: ptr, Rule: fe.Tag(), Detail: ruleDetail(fe.Tag())}
		if len(fields) > 0 && fields[len(fields)-1] == f {
			continue
		}
		fields = append(fields, f)
	}
	return &ValidationError{Fields: fields, reason: ErrConstraint}
}

// paramPointer maps a namespace below a parameter struct ("Codes[0]") to "#/" and the
// parameter's name, or "#" when the field is not a parameter.
func (val *validation) paramPointer(ns string) string {
	end := strings.IndexAny(ns, ".[")
	if end < 0 {
		end = len(ns)
	}
	if name, ok := val.names[ns[:end]]; ok {
		return "#/" + name
	}
	return "#"
}
