package audit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/phikit/phikit/audit"
)

// A handler records the patient and resource it touched; the middleware writes one JSON
// line per request.
func Example() {
	aud, err := audit.New(audit.Config{
		// The span half of a request id is random; this sink blanks it so that the
		// example's output is fixed. A service uses audit.NewJSONLines(f) directly.
		Sink: audit.SinkFunc(func(ctx context.Context, e *audit.Event) error {
			ev := *e
			ev.RequestID, ev.SpanID = ev.TraceID+"-<span>", "<span>"
			return audit.NewJSONLines(os.Stdout).Write(ctx, &ev)
		}),
		Service: "clinic",
		Now:     func() time.Time { return time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.AddPatient(id)
			e.AddResource("Patient", id)
		})
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q}`, id)
	})

	r := httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil)
	// A fixed request id for the example; in a service, phikit.RequestID sets it.
	r.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	aud.Handler(mux).ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// {"time":"2026-11-26T09:30:00Z","request_id":"4bf92f3577b34da6a3ce929d0e0e4736-<span>","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"<span>","action":"R","outcome":"success","method":"GET","path":"/fhir/Patient/pat-1","route":"GET /fhir/Patient/{id}","status":200,"bytes":39,"latency_ns":0,"agent":{"address":"192.0.2.1"},"source":{"service":"clinic"},"entity":[{"kind":"patient","id":"pat-1"},{"kind":"resource","type":"Patient","id":"pat-1"}]}
}

// Annotate does nothing outside an audited request, so library code can call it
// unconditionally.
func ExampleAnnotate() {
	audit.Annotate(context.Background(), func(e *audit.Event) { e.AddPatient("pat-1") })
	fmt.Println("no audit middleware: nothing recorded, nothing failed")
	// Output: no audit middleware: nothing recorded, nothing failed
}

// A FanOut makes an event count as recorded only when every required sink took it.
func ExampleNewFanOut() {
	primary := audit.NewJSONLines(os.Stdout)
	fan, err := audit.NewFanOut(audit.FanOutConfig{Required: []audit.Sink{primary}})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = fan.Write(context.Background(), &audit.Event{
		Time: time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC), RequestID: "r-1",
		Action: audit.ActionRead, Outcome: audit.OutcomeSuccess, Method: "GET", Path: "/healthz", Status: 200,
	})
	fmt.Println(err)
	// Output:
	// {"time":"2026-11-26T09:30:00Z","request_id":"r-1","action":"R","outcome":"success","method":"GET","path":"/healthz","status":200,"bytes":0,"latency_ns":0,"agent":{},"source":{}}
	// <nil>
}
