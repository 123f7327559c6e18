package validate

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-playground/validator/v10"

	"github.com/phikit/phikit/problem"
)

func TestNewConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"limits", Config{MaxBytes: 1 << 20, MaxDepth: MaxDepthLimit}, true},
		{"negative MaxBytes", Config{MaxBytes: -1}, false},
		{"negative MaxDepth", Config{MaxDepth: -1}, false},
		{"MaxDepth above encoding/json's", Config{MaxDepth: MaxDepthLimit + 1}, false},
		{"media types", Config{MediaTypes: []string{"application/json", "Application/Merge-Patch+JSON"}}, true},
		{"empty media types", Config{MediaTypes: []string{}}, false},
		{"wildcard media type", Config{MediaTypes: []string{"application/*"}}, false},
		{"media type with parameters", Config{MediaTypes: []string{"application/json; charset=utf-8"}}, false},
		{"not a media type", Config{MediaTypes: []string{"json"}}, false},
		{"register", Config{Register: func(v *validator.Validate) error {
			return v.RegisterValidation("mrn", func(fl validator.FieldLevel) bool { return strings.HasPrefix(fl.Field().String(), "MRN-") })
		}}, true},
		{"register fails", Config{Register: func(*validator.Validate) error { return errors.New("no") }}, false},
		{"register panics", Config{Register: func(v *validator.Validate) error {
			return v.RegisterValidation("bad,tag", func(validator.FieldLevel) bool { return true })
		}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("got %v, want ok %v", err, tc.ok)
			}
			if err == nil && g == nil {
				t.Fatal("got a nil Gate")
			}
		})
	}
}

func TestConfiguredMediaTypes(t *testing.T) {
	g := mustGate(t, Config{MediaTypes: []string{"application/merge-patch+json"}})
	for ct, want := range map[string]error{
		"application/merge-patch+json":                nil,
		"APPLICATION/MERGE-PATCH+JSON; charset=UTF-8": nil,
		"application/json":                            ErrUnsupportedMediaType,
	} {
		if err := g.checkMediaType(http.Header{"Content-Type": {ct}}); !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", ct, err, want)
		}
	}
}

func TestRegisteredTagsAreUsable(t *testing.T) {
	g := mustGate(t, Config{Register: func(v *validator.Validate) error {
		return v.RegisterValidation("mrn", func(fl validator.FieldLevel) bool { return strings.HasPrefix(fl.Field().String(), "MRN-") })
	}})
	type withMRN struct {
		MRN string `json:"mrn" validate:"mrn"`
	}
	b := mustBody[withMRN](t, g)
	if _, err := b.DecodeBytes(context.Background(), []byte(`{"mrn":"MRN-1"}`)); err != nil {
		t.Errorf("got %v, want accepted", err)
	}
	if _, err := b.DecodeBytes(context.Background(), []byte(`{"mrn":"1"}`)); !errors.Is(err, ErrConstraint) {
		t.Errorf("got %v, want ErrConstraint", err)
	}
}

// Types with tag mistakes, each of which makes validator panic on first use.
type (
	misspelt struct {
		Code string `json:"code" validate:"required,lonic"`
	}
	misspeltInSliceElem struct {
		Items []struct {
			Code string `validate:"npii"`
		} `json:"items"` // no dive: the validator would never reach it, but the tag is still wrong
	}
	misspeltBehindPointer struct {
		P *struct {
			Code string `validate:"fhir-date"`
		} `json:"p"`
	}
	misspeltInMapValue struct {
		M map[string]struct {
			Code string `validate:"sctidd"`
		} `json:"m"`
	}
	diveOnString struct {
		S string `json:"s" validate:"dive"`
	}
	badParam struct {
		N int `json:"n" validate:"min=abc"`
	}
	lenOnStruct struct {
		S struct{ X int } `json:"s" validate:"len=2"`
	}
	keysWithoutDive struct {
		M map[string]string `json:"m" validate:"keys,endkeys"`
	}
	recursiveOK struct {
		Code     string        `json:"code" validate:"omitempty,loinc"`
		Children []recursiveOK `json:"children" validate:"dive"`
		Parent   *recursiveOK  `json:"parent"`
	}
)

func TestNewBodyRefusesBadTags(t *testing.T) {
	g := mustGate(t, Config{})
	check := func(name string, err error, wantOK bool) {
		t.Helper()
		if (err == nil) != wantOK {
			t.Errorf("%s: got %v, want ok %v", name, err, wantOK)
		}
	}
	var err error
	_, err = NewBody[misspelt](g)
	check("misspelt", err, false)
	if err != nil && !strings.Contains(err.Error(), "lonic") {
		t.Errorf("got %v, want the error to name the tag", err)
	}
	_, err = NewBody[[]misspelt](g)
	check("misspelt in a top-level slice", err, false)
	_, err = NewBody[misspeltInSliceElem](g)
	check("misspelt in a slice element", err, false)
	_, err = NewBody[misspeltBehindPointer](g)
	check("misspelt behind a pointer", err, false)
	_, err = NewBody[misspeltInMapValue](g)
	check("misspelt in a map value", err, false)
	_, err = NewBody[diveOnString](g)
	check("dive on a string", err, false)
	_, err = NewBody[badParam](g)
	check("malformed parameter", err, false)
	_, err = NewBody[lenOnStruct](g)
	check("len on a struct", err, false)
	_, err = NewBody[keysWithoutDive](g)
	check("keys without dive", err, false)
	_, err = NewBody[recursiveOK](g)
	check("recursive type", err, true)
	_, err = NewBody[Observation](g)
	check("Observation", err, true)
	_, err = NewBody[[]Observation](g)
	check("list of Observations", err, true)
	_, err = NewBody[map[string]any](g)
	check("generic object", err, true)
	_, err = NewBody[Observation](nil)
	check("nil gate", err, false)
}

func TestTopLevelListIsValidated(t *testing.T) {
	b := mustBody[[]Observation](t, mustGate(t, Config{}))
	bad := strings.Replace(observationJSON, `"8480-6"`, `"8480-5"`, 1)
	_, err := b.DecodeBytes(context.Background(), []byte("["+observationJSON+","+bad+"]"))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Pointer != "/1/code/coding/0/code" {
		t.Errorf("got %v, want the second element's code refused", err)
	}
	p := mustBody[*Observation](t, mustGate(t, Config{}))
	if _, err := p.DecodeBytes(context.Background(), []byte(bad)); !errors.Is(err, ErrConstraint) {
		t.Errorf("pointer type: got %v, want ErrConstraint", err)
	}
	if v, err := p.DecodeBytes(context.Background(), []byte(observationJSON)); err != nil || v == nil {
		t.Errorf("pointer type: got %v, %v, want a value", v, err)
	}
}

// Pointers are built from JSON names, through embedded structs, and stop at maps.
type (
	Meta struct {
		VersionID string `json:"versionId" validate:"required"`
	}
	withEmbedded struct {
		Meta                         // promoted: no segment
		Named    Meta                `json:"meta"` // a JSON name: a segment
		Hidden   string              `json:"-" validate:"required"`
		Tagged   string              `json:"a/b~c" validate:"required"`
		Extras   map[string]Meta     `json:"extras" validate:"dive"`
		Lists    [][]Meta            `json:"lists" validate:"dive,dive"`
		Untagged string              `validate:"required"`
		Keyed    map[string][]string `json:"keyed" validate:"dive,dive,required"`
	}
)

func TestPointersFromValidatorErrors(t *testing.T) {
	b := mustBody[withEmbedded](t, mustGate(t, Config{}))
	_, err := b.DecodeBytes(context.Background(), []byte(`{"versionId":"","meta":{"versionId":""},"a/b~c":"",`+
		`"extras":{"secret-key":{"versionId":""}},"lists":[[{"versionId":"1"},{"versionId":""}]],"Untagged":"","keyed":{"k":[""]}}`))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	want := []string{"/versionId", "/meta/versionId", "", "/a~1b~0c", "/extras", "/lists/0/1/versionId", "/Untagged", "/keyed"}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Pointer)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), "secret-key") {
		t.Error("the error names a map key")
	}
}

func TestValidatorPanicAtRequestTime(t *testing.T) {
	var logs bytes.Buffer
	g := mustGate(t, Config{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Register: func(v *validator.Validate) error {
			return v.RegisterValidation("fragile", func(fl validator.FieldLevel) bool {
				if fl.Field().String() == "boom" {
					panic("fragile: cannot handle this")
				}
				return true
			})
		},
	})
	type fragile struct {
		S string `json:"s" validate:"fragile"`
	}
	b := mustBody[fragile](t, g)
	_, err := b.DecodeBytes(context.Background(), []byte(`{"s":"boom"}`))
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v, want ErrInternal", err)
	}
	if !strings.Contains(logs.String(), "validator panicked") {
		t.Errorf("got log %q, want the panic logged", logs.String())
	}
	rec := httptest.NewRecorder()
	g.Reject(rec, httptest.NewRequest("POST", "/", nil), err)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("got %d %s, want 500 without the value", rec.Code, rec.Body)
	}
}

func TestValidationErrorContract(t *testing.T) {
	err := error(newValidationError(ErrUnknownField, "/code"))
	if !errors.Is(err, ErrUnknownField) || errors.Is(err, ErrDuplicateKey) {
		t.Errorf("got errors.Is mismatch for %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Rule() != "unknown-field" {
		t.Errorf("got %v, want the reason unknown-field", e)
	}
	if got, want := err.Error(), "validate: unknown object member: /code unknown-field"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, e := range []*Error{ErrUnsupportedMediaType, ErrTooLarge, ErrReadBody, ErrEmptyBody, ErrSyntax, ErrTooDeep,
		ErrDuplicateKey, ErrUnknownField, ErrType, ErrTrailingData, ErrInvalidUTF8, ErrNUL, ErrConstraint,
		ErrUnknownParameter, ErrRepeatedParameter, ErrInternal} {
		if !strings.HasPrefix(e.Error(), "validate: ") || e.Rule() == "" || e.detail == "" {
			t.Errorf("%v: incomplete", e)
		}
	}
}

func TestDefaultErrorHandlerStatuses(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		typ    problem.Type
	}{
		{newValidationError(ErrSyntax, ""), 400, problem.InvalidRequest},
		{ErrTooLarge, 413, problem.PayloadTooLarge},
		{ErrUnsupportedMediaType, 415, problem.UnsupportedMediaType},
		{ErrReadBody, 400, problem.InvalidRequest},
		{ErrInternal, 500, problem.Internal},
		{errors.New("other"), 500, problem.Internal},
	} {
		rec := httptest.NewRecorder()
		DefaultErrorHandler(rec, httptest.NewRequest("POST", "/", nil), tc.err)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), string(tc.typ)) {
			t.Errorf("%v: got %d %s, want %d %s", tc.err, rec.Code, rec.Body, tc.status, tc.typ)
		}
	}
}

func TestMaxBytesBounds(t *testing.T) {
	for _, n := range []int64{-1, MaxBytesLimit + 1, math.MaxInt64} {
		_, err := New(Config{MaxBytes: n})
		if err == nil {
			t.Errorf("MaxBytes %d accepted", n)
		}
	}
	if _, err := New(Config{MaxBytes: MaxBytesLimit}); err != nil {
		t.Errorf("MaxBytesLimit refused: %v", err)
	}
}

func TestTagsOnInterfaceFieldsCheckedAtStartUp(t *testing.T) {
	g, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	type minOnAny struct {
		X any `json:"x" validate:"min=1"`
	}
	if _, err := NewBody[minOnAny](g); err == nil {
		t.Error("min on an interface field accepted: a bool body would panic the validator")
	}
	type uniqueOnAnys struct {
		L []any `json:"l" validate:"unique"`
	}
	if _, err := NewBody[uniqueOnAnys](g); err == nil {
		t.Error("unique on []any accepted: mixed elements would panic the validator")
	}
	type requiredOnAny struct {
		X any `json:"x" validate:"required"`
	}
	if _, err := NewBody[requiredOnAny](g); err != nil {
		t.Errorf("required on an interface field refused: %v", err)
	}
}
