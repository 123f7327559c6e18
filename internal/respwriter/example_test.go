package respwriter_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/phikit/phikit/internal/respwriter"
)

// A middleware wraps the writer to learn what the handler sent, and the handler can still
// reach the original writer's features through http.ResponseController.
func ExampleWriter() {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"obs-1"}`)
		if err := http.NewResponseController(w).Flush(); err != nil {
			fmt.Println("flush:", err)
		}
	})

	rec := httptest.NewRecorder()
	rw := respwriter.New(rec)
	handler.ServeHTTP(rw, httptest.NewRequest("POST", "/fhir/Observation", nil))
	fmt.Println(rw.Status(), rw.Bytes(), rec.Flushed)
	// Output: 201 14 true
}
