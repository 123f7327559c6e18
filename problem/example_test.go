package problem_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

// A handler answers with a problem; the body carries fixed text and the request id only.
func ExampleWrite() {
	r := httptest.NewRequest(http.MethodGet, "/Patient/123", nil)
	// The root package's RequestID middleware puts the ids in the context.
	r = r.WithContext(reqid.NewContext(r.Context(), &reqid.IDs{
		RequestID: "4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8",
	}))
	w := httptest.NewRecorder()

	problem.Write(w, r, problem.NotFound)

	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body)
	// Output:
	// 404 application/problem+json
	// {"type":"https://phikit.github.io/problems/not-found","title":"Not found","status":404,"detail":"The requested resource was not found.","instance":"urn:phikit:request:4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8","request_id":"4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8"}
}

// A FHIR client that accepts application/fhir+json gets an OperationOutcome.
func ExampleWrite_fhir() {
	r := httptest.NewRequest(http.MethodGet, "/Patient/123", nil)
	r.Header.Set("Accept", "application/fhir+json")
	r = r.WithContext(reqid.NewContext(r.Context(), &reqid.IDs{
		RequestID: "4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8",
	}))
	w := httptest.NewRecorder()

	problem.Write(w, r, problem.Forbidden)

	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(w.Body)
	// Output:
	// 403 application/fhir+json
	// {"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"forbidden","details":{"coding":[{"system":"https://phikit.github.io/problems","code":"forbidden"}],"text":"Forbidden"},"diagnostics":"request_id=4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8"}]}
}

// WantsFHIR is the negotiation Write uses.
func ExampleWantsFHIR() {
	for _, accept := range []string{
		"application/json",
		"application/fhir+json",
		"application/fhir+json;q=0, application/json",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept", accept)
		fmt.Printf("%-45q %v\n", accept, problem.WantsFHIR(r))
	}
	// Output:
	// "application/json"                            false
	// "application/fhir+json"                       true
	// "application/fhir+json;q=0, application/json" false
}
