package authz_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz"
)

// A SMART patient app may read its own patient, and nothing about another.
func Example() {
	az, err := authz.New(authz.Config{DefaultPurpose: "TREAT"})
	if err != nil {
		fmt.Println(err)
		return
	}
	api := az.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := authz.FromContext(r.Context())
		fmt.Fprintf(w, "allowed: %s for %s (%v)", r.URL.RequestURI(), d.Patient, d.Reasons)
	}))
	app := &authn.Principal{Subject: "patient-user-1", Patient: "pat-1",
		Scopes: []string{"launch/patient", "patient/Patient.r", "patient/Observation.rs"}}
	for _, target := range []string{"/fhir/Patient/pat-1", "/fhir/Patient/pat-2", "/fhir/Observation?code=8867-4", "/fhir/Observation", "/fhir/Condition?patient=pat-1"} {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r = r.WithContext(authn.NewContext(r.Context(), app))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Body.String())
		} else {
			fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", target, " ", w.Header().Get("WWW-Authenticate"))))
		}
	}
	// Output:
	// allowed: /fhir/Patient/pat-1 for pat-1 ([scope patient/Patient.r patient in context pat-1])
	// 404 /fhir/Patient/pat-2
	// allowed: /fhir/Observation?code=8867-4&patient=pat-1 for pat-1 ([scope patient/Observation.rs patient in context pat-1])
	// allowed: /fhir/Observation?patient=pat-1 for pat-1 ([scope patient/Observation.rs patient in context pat-1])
	// 403 /fhir/Condition?patient=pat-1 Bearer error="insufficient_scope", scope="patient/Condition.s"
}
