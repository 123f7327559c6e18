package audit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
)

// On a real server, a response whose event cannot be recorded never reaches the client.
func TestSinkFailureAbortsTheResponseOnARealServer(t *testing.T) {
	sink := &memorySink{err: errDiskFull}
	h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"name":"Ada Testperson"}`)
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	srv.Config.ErrorLog = discardLog()

	resp, err := http.Get(srv.URL)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		t.Fatalf("got %d %q, want the connection aborted", resp.StatusCode, body)
	}
}

func TestSinkPanicIsASinkFailure(t *testing.T) {
	calls := 0
	sink := audit.SinkFunc(func(context.Context, *audit.Event) error {
		calls++
		panic("sink bug with patient pat-1 in it")
	})
	runs := 0
	h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { runs++ }))

	rec, repanic := serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Nil(t, repanic, "the sink's panic must not escape")
	assert.Equal(t, 503, rec.Code)
	rec, _ = serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, 1, runs, "handler ran while the audit trail was failing")
	assert.Equal(t, 2, calls)
}

func TestErrorHandlerPanicStillEmitsOneEvent(t *testing.T) {
	sink := &memorySink{}
	m, err := audit.New(audit.Config{
		Sink:         sink,
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic("error handler bug") },
	})
	require.NoError(t, err)
	_, repanic := serve(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") })),
		httptest.NewRequest("GET", "/", nil))
	assert.Nil(t, repanic)
	events := sink.all()
	require.Len(t, events, 1)
	assert.Equal(t, audit.OutcomeMajorFailure, events[0].Outcome)
	assert.Equal(t, 500, events[0].Status)
}

func TestHijackThenPanic(t *testing.T) {
	sink := &memorySink{}
	written := make(chan struct{})
	h := newMiddleware(t, audit.SinkFunc(func(ctx context.Context, e *audit.Event) error {
		defer close(written)
		return sink.Write(ctx, e)
	})).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		panic("after hijack")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	srv.Config.ErrorLog = discardLog()
	if resp, err := http.Get(srv.URL); err == nil {
		_ = resp.Body.Close()
	}
	select {
	case <-written:
	case <-time.After(30 * time.Second):
		t.Fatal("no audit event after the hijack")
	}
	events := sink.all()
	require.Len(t, events, 1)
	assert.Equal(t, http.StatusSwitchingProtocols, events[0].Status)
	assert.Equal(t, audit.OutcomeMajorFailure, events[0].Outcome)
}

func TestStatusEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    int
	}{
		{name: "only an informational 103", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
		}, want: 200},
		{name: "101 is final", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusSwitchingProtocols)
		}, want: 101},
		{name: "an invalid code panics in net/http: answered 500", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(1000)
		}, want: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			srv := httptest.NewServer(newMiddleware(t, sink).Handler(tt.handler))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			require.NoError(t, err)
			_ = resp.Body.Close()
			srv.Close()
			assert.Equal(t, tt.want, resp.StatusCode, "client status")
			events := sink.all()
			require.Len(t, events, 1)
			assert.Equal(t, tt.want, events[0].Status, "event status")
		})
	}
}

func TestAnnotateRacingTheEmission(t *testing.T) {
	sink := &memorySink{}
	var wg sync.WaitGroup
	h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		go func() { // outlives the request
			defer wg.Done()
			for range 100 {
				audit.Annotate(r.Context(), func(e *audit.Event) { e.AddPatient("pat-late") })
			}
		}()
	}))
	for range 20 {
		serve(h, httptest.NewRequest("GET", "/", nil))
	}
	wg.Wait()
	assert.Len(t, sink.all(), 20)
}

func TestConcurrentRequestsWhileFailing(t *testing.T) {
	sink := &memorySink{err: errDiskFull}
	var mu sync.Mutex
	runs := 0
	h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		runs++
		mu.Unlock()
	}))
	serve(h, httptest.NewRequest("GET", "/", nil)) // fails the sink
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, _ := serve(h, httptest.NewRequest("GET", "/", nil))
			codes <- rec.Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, 503, c)
	}
	assert.Equal(t, 1, runs)
}

func TestRecordRouteBehindAnotherMiddleware(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/{id}", func(http.ResponseWriter, *http.Request) {})
	copyRequest := func(next http.Handler) http.Handler { // what authn and others do
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), copyKey{}, 1)))
		})
	}
	tests := []struct {
		name  string
		inner http.Handler
		want  string
	}{
		{name: "mux directly inside", inner: mux, want: "GET /fhir/Patient/{id}"},
		{name: "behind a request copy, unwrapped", inner: copyRequest(mux), want: ""},
		{name: "behind a request copy, RecordRoute", inner: copyRequest(audit.RecordRoute(mux)), want: "GET /fhir/Patient/{id}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			serve(newMiddleware(t, sink).Handler(tt.inner), httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil))
			require.Len(t, sink.all(), 1)
			assert.Equal(t, tt.want, sink.all()[0].Route)
		})
	}
}

type copyKey struct{}

// A sink's error text may quote the event (a database repeating a patient id); the log
// line carries only its kind.
func TestSinkErrorTextIsNotLogged(t *testing.T) {
	var logs syncBuffer
	sink := audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		return fmt.Errorf("duplicate key (path)=(%s)", e.Path)
	})
	m, err := audit.New(audit.Config{Sink: sink, Logger: newTextLogger(&logs)})
	require.NoError(t, err)
	serve(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})), httptest.NewRequest("GET", "/fhir/Patient/pat-123", nil))
	assert.Contains(t, logs.String(), "sink failed")
	assert.NotContains(t, logs.String(), "pat-123")
}
