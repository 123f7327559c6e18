package phikit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/phikit/phikit"
)

// Chain puts RequestID and SecureHeaders in front of a mux; every response carries an id
// and the security headers.
func ExampleChain() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := phikit.RequestIDFromContext(r.Context())
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Println("handler sees the response id:", w.Header().Get(phikit.RequestIDHeader) == id)
		_, _ = w.Write([]byte(`{"resourceType":"Patient"}`))
	})
	handler := phikit.Chain(
		phikit.RequestID,
		phikit.SecureHeaders,
	)(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/Patient/123", nil))

	res := rec.Result()
	fmt.Println(res.StatusCode)
	for _, k := range []string{
		"Strict-Transport-Security",
		"Cache-Control",
		"X-Content-Type-Options",
		"Content-Security-Policy",
		"Referrer-Policy",
	} {
		fmt.Printf("%s: %s\n", k, res.Header.Get(k))
	}
	fmt.Println("X-Request-Id length:", len(res.Header.Get(phikit.RequestIDHeader)))
	// Output:
	// handler sees the response id: true
	// 200
	// Strict-Transport-Security: max-age=63072000; includeSubDomains
	// Cache-Control: no-store
	// X-Content-Type-Options: nosniff
	// Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
	// Referrer-Policy: no-referrer
	// X-Request-Id length: 49
}
