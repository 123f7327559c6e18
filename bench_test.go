package phikit_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit"
	"github.com/phikit/phikit/audit"
)

// benchWriter is a reusable http.ResponseWriter whose header map is cleared per request,
// so that the benchmark measures the middleware, not the recorder.
type benchWriter struct{ h http.Header }

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(int)             {}
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }

var benchBody = []byte(`{"resourceType":"Patient","id":"123","active":true}`)

// benchHandler is a realistic small JSON handler.
var benchHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write(benchBody)
})

func runBench(b *testing.B, h http.Handler, r *http.Request) {
	b.Helper()
	b.ReportAllocs()
	w := &benchWriter{h: make(http.Header, 8)}
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

func BenchmarkRequestID(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/Patient/123", nil)
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.Header.Set("Accept", "application/fhir+json")
	b.Run("bare", func(b *testing.B) { runBench(b, benchHandler, r) })
	b.Run("wrapped", func(b *testing.B) { runBench(b, phikit.RequestID(benchHandler), r) })
}

func BenchmarkSecureHeaders(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/Patient/123", nil)
	r.Header.Set("Accept", "application/fhir+json")
	b.Run("bare", func(b *testing.B) { runBench(b, benchHandler, r) })
	b.Run("wrapped", func(b *testing.B) { runBench(b, phikit.SecureHeaders(benchHandler), r) })
}

// BenchmarkChain measures the foundation chain a service starts with — RequestID,
// SecureHeaders and audit writing JSON lines to io.Discard — beside the bare handler.
func BenchmarkChain(b *testing.B) {
	aud, err := audit.New(audit.Config{Sink: audit.NewJSONLines(io.Discard), Service: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/Patient/123", nil)
	b.Run("bare", func(b *testing.B) { runBench(b, benchHandler, r) })
	b.Run("chain", func(b *testing.B) {
		runBench(b, phikit.Chain(phikit.RequestID, phikit.SecureHeaders, aud.Handler)(benchHandler), r)
	})
}
