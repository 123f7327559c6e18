package problem_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkWrite measures writing a rejection — the path a flood of bad requests takes —
// beside net/http's plain-text http.Error.
func BenchmarkWrite(b *testing.B) {
	newReq := func(accept string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil)
		r.Header.Set("Accept", accept)
		return r.WithContext(reqid.NewContext(r.Context(), reqid.New(nil)))
	}
	cases := []struct {
		name  string
		r     *http.Request
		write func(w http.ResponseWriter, r *http.Request)
	}{
		{"http.Error", newReq("application/json"), func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		}},
		{"problem+json", newReq("application/json"), func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, problem.RateLimited)
		}},
		{"OperationOutcome", newReq("application/fhir+json"), func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, problem.RateLimited)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.write(w, c.r)
			}
		})
	}
}
