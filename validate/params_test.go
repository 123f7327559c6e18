package validate

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

type patientSearch struct {
	ID      string   `path:"id" validate:"omitempty,fhir_id"`
	SSN     string   `query:"ssn" validate:"omitempty,ssn"`
	NPI     *string  `query:"npi" validate:"omitnil,npi"`
	Count   *int     `query:"_count" validate:"omitnil,min=1,max=100"`
	Codes   []string `query:"code" validate:"max=5,dive,loinc"`
	Active  *bool    `query:"active"`
	Weight  float64  `query:"weight"`
	Limit   uint8    `query:"limit"`
	Skipped string   `query:"-"`
	Other   string
}

func mustParams[T any](t testing.TB, g *Gate) *Params[T] {
	t.Helper()
	p, err := NewParams[T](g)
	if err != nil {
		t.Fatalf("NewParams: %v", err)
	}
	return p
}

func TestParams(t *testing.T) {
	p := mustParams[patientSearch](t, mustGate(t, Config{}))
	for _, tc := range []struct {
		name     string
		query    string
		want     error
		pointers []string
	}{
		{"none", "", nil, nil},
		{"all valid", "ssn=123-45-6789&npi=1234567893&_count=10&code=8480-6&code=2345-7&active=true&weight=70.5&limit=255", nil, nil},
		{"invalid SSN", "ssn=000-12-3456", ErrConstraint, []string{"#/ssn"}},
		{"invalid NPI", "npi=1234567890", ErrConstraint, []string{"#/npi"}},
		{"count at minimum", "_count=1", nil, nil},
		{"count below minimum", "_count=0", ErrConstraint, []string{"#/_count"}},
		{"count fraction", "_count=1.5", ErrType, []string{"#/_count"}},
		{"count plus sign", "_count=%2B1", ErrType, []string{"#/_count"}},
		{"count leading zeros", "_count=007", ErrType, []string{"#/_count"}},
		{"count exponent", "_count=1e1", ErrType, []string{"#/_count"}},
		{"count text", "_count=ten", ErrType, []string{"#/_count"}},
		{"count empty", "_count=", ErrType, []string{"#/_count"}},
		{"count out of range", "_count=99999999999999999999", ErrType, []string{"#/_count"}},
		{"codes valid", "code=8480-6&code=718-7", nil, nil},
		{"one code invalid", "code=8480-6&code=8480-5", ErrConstraint, []string{"#/code"}},
		{"too many codes", "code=718-7&code=718-7&code=718-7&code=718-7&code=718-7&code=718-7", ErrConstraint, []string{"#/code"}},
		{"bool true", "active=true", nil, nil},
		{"bool false", "active=false", nil, nil},
		{"bool 1", "active=1", ErrType, []string{"#/active"}},
		{"bool upper case", "active=TRUE", ErrType, []string{"#/active"}},
		{"float", "weight=-0.25", nil, nil},
		{"float NaN", "weight=NaN", ErrType, []string{"#/weight"}},
		{"float Inf", "weight=Inf", ErrType, []string{"#/weight"}},
		{"float too precise", "weight=9007199254740993", ErrType, []string{"#/weight"}},
		{"uint negative", "limit=-1", ErrType, []string{"#/limit"}},
		{"uint8 overflow", "limit=256", ErrType, []string{"#/limit"}},
		{"repeated", "ssn=123-45-6789&ssn=123-45-6789", ErrRepeatedParameter, []string{"#/ssn"}},
		{"unknown", "ssn=123-45-6789&sort=name", ErrUnknownParameter, []string{"#"}},
		{"unknown case variant", "SSN=123-45-6789", ErrUnknownParameter, []string{"#"}},
		{"tagged with -", "Skipped=x", ErrUnknownParameter, []string{"#"}},
		{"path name as query", "id=abc", ErrUnknownParameter, []string{"#"}},
		{"bad escape", "ssn=%zz", ErrSyntax, []string{"#"}},
		{"semicolon", "ssn=1;x=2", ErrSyntax, []string{"#"}},
		{"NUL", "ssn=12%00", ErrNUL, []string{"#/ssn"}},
		{"invalid UTF-8", "ssn=%ff", ErrInvalidUTF8, []string{"#/ssn"}},
		{"every bad parameter listed", "_count=x&active=yes&limit=300", ErrType, []string{"#/_count", "#/active", "#/limit"}},
		{"every failing rule listed", "ssn=000-00-0000&npi=1&_count=500", ErrConstraint, []string{"#/ssn", "#/npi", "#/_count"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Decode(httptest.NewRequest("GET", "/fhir/Patient?"+tc.query, nil))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %T, want *ValidationError", err)
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Pointer)
			}
			if len(got) != len(tc.pointers) {
				t.Fatalf("got pointers %q, want %q", got, tc.pointers)
			}
			for i := range got {
				if got[i] != tc.pointers[i] {
					t.Errorf("got pointers %q, want %q", got, tc.pointers)
				}
			}
		})
	}
}

func TestParamsValues(t *testing.T) {
	p := mustParams[patientSearch](t, mustGate(t, Config{}))
	v, err := p.Decode(httptest.NewRequest("GET", "/?npi=1234567893&_count=10&code=8480-6&code=718-7&active=false&weight=70.5&limit=7", nil))
	if err != nil {
		t.Fatal(err)
	}
	if v.NPI == nil || *v.NPI != "1234567893" || v.Count == nil || *v.Count != 10 || len(v.Codes) != 2 ||
		v.Active == nil || *v.Active || v.Weight != 70.5 || v.Limit != 7 || v.SSN != "" {
		t.Errorf("got %+v, want the parameters", v)
	}
	v, err = p.Decode(httptest.NewRequest("GET", "/", nil))
	if err != nil || v.NPI != nil || v.Count != nil || v.Codes != nil || v.Active != nil {
		t.Errorf("got %+v, %v, want nil pointers and slices for absent parameters", v, err)
	}
}

func TestParamsHandlerWithPath(t *testing.T) {
	g := mustGate(t, Config{})
	p := mustParams[patientSearch](t, g)
	mux := http.NewServeMux()
	var got patientSearch
	var reached bool
	mux.Handle("GET /fhir/Patient/{id}", p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, reached = FromContext[patientSearch](r.Context())
	})))
	for _, tc := range []struct {
		target string
		status int
		id     string
	}{
		{"/fhir/Patient/example-123?_count=5", 200, "example-123"},
		{"/fhir/Patient/bad%20id!", 400, ""},
		{"/fhir/Patient/x%00y", 400, ""},
		{"/fhir/Patient/example-123?nope=1", 400, ""},
	} {
		reached, got = false, patientSearch{}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.target, nil))
		if rec.Code != tc.status || reached != (tc.status == 200) || got.ID != tc.id {
			t.Errorf("%s: got %d, reached %v, id %q; want %d and id %q", tc.target, rec.Code, reached, got.ID, tc.status, tc.id)
		}
	}
}

func TestNewParamsRefusesBadStructs(t *testing.T) {
	g := mustGate(t, Config{})
	check := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: got nil, want an error", name)
		}
	}
	_, err := NewParams[string](g)
	check("not a struct", err)
	_, err = NewParams[*patientSearch](g)
	check("pointer to struct", err)
	_, err = NewParams[struct {
		A string `query:"a" path:"a"`
	}](g)
	check("both tags", err)
	_, err = NewParams[struct {
		A string `query:""`
	}](g)
	check("empty name", err)
	_, err = NewParams[struct {
		A string `query:"a"`
		B string `path:"a"`
	}](g)
	check("name twice", err)
	_, err = NewParams[struct {
		A struct{ X int } `query:"a"`
	}](g)
	check("struct field", err)
	_, err = NewParams[struct {
		A map[string]string `query:"a"`
	}](g)
	check("map field", err)
	_, err = NewParams[struct {
		A []string `path:"a"`
	}](g)
	check("slice path", err)
	_, err = NewParams[struct {
		a string `query:"a"`
	}](g)
	check("unexported", err)
	_, err = NewParams[struct {
		A string `query:"a" validate:"lonic"`
	}](g)
	check("misspelt tag", err)
	_, err = NewParams[patientSearch](nil)
	check("nil gate", err)
}
