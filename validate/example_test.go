package validate_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/phikit/phikit/validate"
)

type Coding struct {
	System string `json:"system" validate:"required,eq=http://loinc.org"`
	Code   string `json:"code" validate:"required,loinc"`
}

type Observation struct {
	ResourceType string `json:"resourceType" validate:"required,eq=Observation"`
	Status       string `json:"status" validate:"required,oneof=registered preliminary final amended"`
	Code         struct {
		Coding []Coding `json:"coding" validate:"required,min=1,dive"`
	} `json:"code"`
	Subject struct {
		Reference string `json:"reference" validate:"required,startswith=Patient/"`
	} `json:"subject"`
	EffectiveDateTime string `json:"effectiveDateTime" validate:"required,fhir_datetime"`
}

func Example() {
	gate, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	observations, err := validate.NewBody[Observation](gate)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /fhir/Observation", observations.Handler(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			obs, _ := validate.FromContext[Observation](r.Context())
			fmt.Println("stored", obs.Code.Coding[0].Code, "for", obs.Subject.Reference)
			w.WriteHeader(http.StatusCreated)
		})))

	post := func(body string) {
		req := httptest.NewRequest("POST", "/fhir/Observation", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(strings.TrimSpace(fmt.Sprint(rec.Code, " ", rec.Body.String())))
	}
	post(`{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},
		"subject":{"reference":"Patient/123"},"effectiveDateTime":"2024-03-11T09:30:00Z"}`)
	// A wrong check digit and an impossible date: both fields are named, neither value is.
	post(`{"resourceType":"Observation","status":"final",
		"code":{"coding":[{"system":"http://loinc.org","code":"8480-5"}]},
		"subject":{"reference":"Patient/123"},"effectiveDateTime":"2023-02-30"}`)
	// A second "status" member further down.
	post(`{"resourceType":"Observation","status":"final","status":"entered-in-error"}`)
	// Output:
	// stored 8480-6 for Patient/123
	// 201
	// 400 {"type":"https://phikit.github.io/problems/invalid-request","title":"Invalid request","status":400,"detail":"The request is malformed or failed validation.","errors":[{"pointer":"/code/coding/0/code","rule":"loinc","detail":"The value is not a LOINC code with a valid check digit."},{"pointer":"/effectiveDateTime","rule":"fhir_datetime","detail":"The value is not a FHIR dateTime (a real calendar date; with a time, a time zone is required)."}]}
	// 400 {"type":"https://phikit.github.io/problems/invalid-request","title":"Invalid request","status":400,"detail":"The request is malformed or failed validation.","errors":[{"pointer":"/status","rule":"duplicate-key","detail":"The object has more than one member with this name."}]}
}

type ObservationSearch struct {
	Patient string   `path:"id" validate:"required,fhir_id"`
	Code    []string `query:"code" validate:"max=10,dive,loinc"`
	Count   *int     `query:"_count" validate:"omitnil,min=1,max=100"`
}

func ExampleParams() {
	gate, err := validate.New(validate.Config{})
	if err != nil {
		panic(err)
	}
	search, err := validate.NewParams[ObservationSearch](gate)
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /fhir/Patient/{id}/Observation", search.Handler(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			s, _ := validate.FromContext[ObservationSearch](r.Context())
			fmt.Println("search", s.Patient, s.Code, *s.Count)
		})))
	for _, target := range []string{
		"/fhir/Patient/123/Observation?code=8480-6&code=8462-4&_count=20",
		"/fhir/Patient/123/Observation?_count=20&_count=500",
		"/fhir/Patient/123/Observation?code=8480-6&ssn=123-45-6789",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusOK {
			fmt.Println(rec.Code, rec.Body.String())
		}
	}
	// Output:
	// search 123 [8480-6 8462-4] 20
	// 400 {"type":"https://phikit.github.io/problems/invalid-request","title":"Invalid request","status":400,"detail":"The request is malformed or failed validation.","errors":[{"pointer":"#/_count","rule":"repeated-parameter","detail":"The parameter is given more than once but takes a single value."}]}
	// 400 {"type":"https://phikit.github.io/problems/invalid-request","title":"Invalid request","status":400,"detail":"The request is malformed or failed validation.","errors":[{"pointer":"#","rule":"unknown-parameter","detail":"The query has a parameter that is not defined here."}]}
}
