package audit_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

var t0 = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func newMiddleware(t *testing.T, sink audit.Sink) *audit.Middleware {
	t.Helper()
	m, err := audit.New(audit.Config{Sink: sink, Service: "test", Now: stepClock(t0, 25*time.Millisecond)})
	require.NoError(t, err)
	return m
}

// serve runs one request through the middleware, recovering a re-raised panic.
func serve(h http.Handler, r *http.Request) (rec *httptest.ResponseRecorder, repanic any) {
	rec = httptest.NewRecorder()
	func() {
		defer func() { repanic = recover() }()
		h.ServeHTTP(rec, r)
	}()
	return rec, repanic
}

func TestMiddlewareOneEventPerRequest(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		handler     http.HandlerFunc
		wantStatus  int // what the client got
		wantEvent   int // what the event says
		wantOutcome audit.Outcome
		wantAction  audit.Action
		wantBytes   int64 // -1: the length of the body the client got
		wantRepanic any
	}{
		{
			name:   "writes a body",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "hello")
			},
			wantStatus: 200, wantEvent: 200, wantOutcome: audit.OutcomeSuccess, wantAction: audit.ActionRead, wantBytes: 5,
		},
		{
			name:   "writes the header twice",
			method: http.MethodPost,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, "ab")
				_, _ = io.WriteString(w, "cd")
			},
			wantStatus: 201, wantEvent: 201, wantOutcome: audit.OutcomeSuccess, wantAction: audit.ActionCreate, wantBytes: 4,
		},
		{
			name:       "never writes",
			method:     http.MethodDelete,
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: 200, wantEvent: 200, wantOutcome: audit.OutcomeSuccess, wantAction: audit.ActionDelete,
		},
		{
			name:   "client error",
			method: http.MethodPut,
			handler: func(w http.ResponseWriter, r *http.Request) {
				problem.Write(w, r, problem.NotFound)
			},
			wantStatus: 404, wantEvent: 404, wantOutcome: audit.OutcomeMinorFailure, wantAction: audit.ActionUpdate, wantBytes: -1,
		},
		{
			name:   "server error",
			method: http.MethodPatch,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
			},
			wantStatus: 502, wantEvent: 502, wantOutcome: audit.OutcomeSeriousFailure, wantAction: audit.ActionUpdate,
		},
		{
			name:   "panics before writing: answered 500, not re-raised",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, r *http.Request) {
				panic("patient SSN 123-45-6789")
			},
			wantStatus: 500, wantEvent: 500, wantOutcome: audit.OutcomeMajorFailure, wantAction: audit.ActionRead, wantBytes: -1,
		},
		{
			name:   "panics after writing: re-raised as ErrAbortHandler",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "partial")
				panic(fmt.Errorf("boom"))
			},
			wantStatus: 200, wantEvent: 200, wantOutcome: audit.OutcomeMajorFailure, wantAction: audit.ActionRead,
			wantBytes: 7, wantRepanic: http.ErrAbortHandler,
		},
		{
			name:   "aborts with ErrAbortHandler: passed on",
			method: http.MethodOptions,
			handler: func(w http.ResponseWriter, r *http.Request) {
				panic(http.ErrAbortHandler)
			},
			wantStatus: 200, wantEvent: 500, wantOutcome: audit.OutcomeMajorFailure, wantAction: audit.ActionExecute,
			wantRepanic: http.ErrAbortHandler,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			h := newMiddleware(t, sink).Handler(tt.handler)
			r := httptest.NewRequest(tt.method, "/fhir/Patient/pat-1", nil)
			rec, repanic := serve(h, r)

			assert.Equal(t, tt.wantRepanic, repanic, "re-raised panic")
			if tt.wantRepanic == nil { // a recorder cannot show what an aborted connection sent
				assert.Equal(t, tt.wantStatus, rec.Code, "status sent")
			}
			events := sink.all()
			require.Len(t, events, 1, "events")
			e := events[0]
			assert.Equal(t, tt.wantEvent, e.Status, "event status")
			assert.Equal(t, tt.wantOutcome, e.Outcome)
			assert.Equal(t, tt.wantAction, e.Action)
			wantBytes := tt.wantBytes
			if wantBytes < 0 {
				wantBytes = int64(rec.Body.Len())
				assert.Positive(t, wantBytes)
			}
			assert.Equal(t, wantBytes, e.Bytes, "event bytes")
			assert.Equal(t, tt.method, e.Method)
			assert.Equal(t, "/fhir/Patient/pat-1", e.Path)
			assert.Equal(t, "192.0.2.1", e.Agent.Address)
			assert.Equal(t, "test", e.Source.Service)
			assert.Equal(t, t0.Add(25*time.Millisecond), e.Time)
			assert.Equal(t, 25*time.Millisecond, e.Latency)
			assert.False(t, e.ClientGone)
			assert.NotContains(t, rec.Body.String(), "123-45-6789", "panic value leaked into the response")
		})
	}
}

func TestMiddlewarePanicIsNotLogged(t *testing.T) {
	var logs strings.Builder
	m, err := audit.New(audit.Config{Sink: &memorySink{}, Logger: newTextLogger(&logs)})
	require.NoError(t, err)
	_, repanic := serve(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("patient SSN 123-45-6789")
	})), httptest.NewRequest("GET", "/", nil))
	require.Nil(t, repanic)
	assert.Contains(t, logs.String(), "handler panicked")
	assert.Contains(t, logs.String(), "panic_type=string")
	assert.NotContains(t, logs.String(), "123-45-6789")
}

func TestMiddlewareClientGone(t *testing.T) {
	tests := []struct {
		name       string
		write      bool
		wantStatus int
	}{
		{name: "before writing", write: false, wantStatus: 499},
		{name: "after writing", write: true, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &memorySink{}
			ctx, cancel := context.WithCancel(context.Background())
			h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.write {
					_, _ = io.WriteString(w, "x")
				}
				cancel() // the client goes away while the handler runs
				<-r.Context().Done()
			}))
			serve(h, httptest.NewRequest("GET", "/", nil).WithContext(ctx))
			events := sink.all()
			require.Len(t, events, 1)
			assert.True(t, events[0].ClientGone)
			assert.Equal(t, tt.wantStatus, events[0].Status)
			assert.Equal(t, audit.OutcomeMinorFailure == events[0].Outcome, !tt.write)
		})
	}
}

func TestMiddlewareHijack(t *testing.T) {
	sink := &memorySink{}
	written := make(chan struct{})
	notify := audit.SinkFunc(func(ctx context.Context, e *audit.Event) error {
		defer close(written)
		return sink.Write(ctx, e)
	})
	h := newMiddleware(t, notify).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/ws")
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	select { // the server does not track hijacked connections, so wait for the event itself
	case <-written:
	case <-time.After(30 * time.Second):
		t.Fatal("no audit event after the hijack")
	}
	events := sink.all()
	require.Len(t, events, 1)
	assert.Equal(t, http.StatusSwitchingProtocols, events[0].Status)
}

func TestMiddlewareRouteAndIDs(t *testing.T) {
	sink := &memorySink{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fhir/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {})
	h := newMiddleware(t, sink).Handler(mux)

	ids := reqid.New([]string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	r := httptest.NewRequest("GET", "/fhir/Patient/pat-2", nil)
	serve(h, r.WithContext(reqid.NewContext(r.Context(), ids)))
	// Without a RequestID middleware outside, the event still gets an id.
	serve(h, httptest.NewRequest("GET", "/nowhere", nil))

	events := sink.all()
	require.Len(t, events, 2)
	assert.Equal(t, "GET /fhir/Patient/{id}", events[0].Route)
	assert.Equal(t, ids.RequestID, events[0].RequestID)
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", events[0].TraceID)
	assert.Equal(t, ids.SpanID, events[0].SpanID)
	assert.Equal(t, "", events[1].Route)
	assert.Equal(t, 404, events[1].Status)
	assert.Regexp(t, `^[0-9a-f]{32}-[0-9a-f]{16}$`, events[1].RequestID)
	assert.NotEqual(t, events[0].RequestID, events[1].RequestID)
}

func TestAnnotate(t *testing.T) {
	t.Run("no middleware: no-op", func(t *testing.T) {
		called := false
		audit.Annotate(context.Background(), func(*audit.Event) { called = true })
		assert.False(t, called)
	})

	t.Run("from the handler and its goroutines", func(t *testing.T) {
		sink := &memorySink{}
		h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					audit.Annotate(r.Context(), func(e *audit.Event) {
						e.AddResource("Observation", fmt.Sprintf("obs-%d", i))
						e.AddPatient("pat-1") // recorded once however often it is added
					})
				}()
			}
			wg.Wait()
			audit.Annotate(r.Context(), func(e *audit.Event) {
				e.Action = audit.ActionRead
				e.AddQuery("Observation", "patient=pat-1")
				e.PurposeOfUse = []string{"TREAT"}
				e.Decision = &audit.Decision{Allow: true, Reasons: []string{"scope patient/Observation.rs"}}
				e.Agent.Subject = "practitioner-7"
			})
		}))
		serve(h, httptest.NewRequest("POST", "/fhir/Observation/_search", nil))
		events := sink.all()
		require.Len(t, events, 1)
		e := events[0]
		assert.Equal(t, audit.ActionRead, e.Action)
		assert.Len(t, e.Entities, 8+1+1)
		patients := 0
		for _, en := range e.Entities {
			if en.Kind == audit.EntityPatient {
				patients++
			}
		}
		assert.Equal(t, 1, patients)
		assert.Equal(t, []string{"TREAT"}, e.PurposeOfUse)
		assert.Equal(t, "practitioner-7", e.Agent.Subject)
		require.NotNil(t, e.Decision)
		assert.True(t, e.Decision.Allow)
	})

	t.Run("after the event is emitted: dropped", func(t *testing.T) {
		sink := &memorySink{}
		var ctx context.Context
		h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx = r.Context()
		}))
		serve(h, httptest.NewRequest("GET", "/", nil))
		called := false
		audit.Annotate(ctx, func(*audit.Event) { called = true })
		assert.False(t, called)
		assert.Empty(t, sink.all()[0].Entities)
	})
}

func TestMiddlewareFailsClosed(t *testing.T) {
	sink := &memorySink{}
	var logs strings.Builder
	m, err := audit.New(audit.Config{Sink: sink, Logger: newTextLogger(&logs)})
	require.NoError(t, err)
	runs := 0
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		if r.URL.Path == "/write" {
			_, _ = io.WriteString(w, "data")
		}
	}))
	get := func(path string) *httptest.ResponseRecorder {
		rec, repanic := serve(h, httptest.NewRequest("GET", path, nil))
		require.Nil(t, repanic)
		return rec
	}

	// 1. Healthy.
	assert.Equal(t, 200, get("/write").Code)
	assert.Equal(t, 1, runs)

	// 2. The sink fails after the handler wrote: the connection is aborted, so that the
	// response net/http still holds back is never sent unaudited.
	sink.setErr(errDiskFull)
	_, repanic := serve(h, httptest.NewRequest("GET", "/write", nil))
	assert.Equal(t, http.ErrAbortHandler, repanic)
	assert.Equal(t, 2, runs)
	assert.Contains(t, logs.String(), "sink failed")

	// 3. From now on requests are refused before the handler runs.
	rec := get("/write")
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "1", rec.Header().Get("Retry-After"))
	assert.Equal(t, problem.ContentTypeProblem, rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), string(problem.Unavailable))
	assert.Equal(t, 2, runs, "handler ran while the audit trail was failing")

	// 4. The sink recovers: the refused request's own event is the probe.
	sink.setErr(nil)
	assert.Equal(t, 503, get("/write").Code)
	assert.Equal(t, 2, runs)
	assert.Contains(t, logs.String(), "sink recovered")

	// 5. Served again.
	assert.Equal(t, 200, get("/write").Code)
	assert.Equal(t, 3, runs)

	events := sink.all()
	require.Len(t, events, 3) // requests 1, 4 (refused) and 5
	assert.Equal(t, "audit.unavailable", events[1].Rejection)
	assert.Equal(t, 503, events[1].Status)
	assert.Equal(t, "", events[2].Rejection)
	assert.NotContains(t, logs.String(), "/write", "log line carries request data")
	assert.Contains(t, logs.String(), "error_kind=*errors.errorString")
}

func TestMiddlewareSinkFailsBeforeAnyWrite(t *testing.T) {
	sink := &memorySink{err: errDiskFull}
	h := newMiddleware(t, sink).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	rec, _ := serve(h, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 503, rec.Code, "a response not yet written must not go out unaudited")
}

func TestMiddlewareBlockingSinkHoldsTheRequest(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	h := newMiddleware(t, audit.NewJSONLines(w)).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve(h, httptest.NewRequest("GET", "/", nil))
	}()
	<-w.entered
	select {
	case <-done:
		t.Fatal("request completed while its audit event was still being written")
	default:
	}
	close(w.release)
	<-done
	assert.Equal(t, 1, strings.Count(w.buf.String(), "\n"))
}

type blockingWriter struct {
	entered, release chan struct{}
	buf              strings.Builder
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	close(w.entered)
	<-w.release
	return w.buf.Write(p)
}

func TestNewValidates(t *testing.T) {
	_, err := audit.New(audit.Config{})
	assert.Error(t, err)
	m, err := audit.New(audit.Config{Sink: &memorySink{}})
	require.NoError(t, err)
	assert.Panics(t, func() { m.Handler(nil) })
}

func TestMiddlewareCustomErrorHandler(t *testing.T) {
	var got error
	m, err := audit.New(audit.Config{
		Sink: &memorySink{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(599)
		},
	})
	require.NoError(t, err)
	rec, _ := serve(m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") })),
		httptest.NewRequest("GET", "/", nil))
	assert.ErrorIs(t, got, audit.ErrPanic)
	assert.Equal(t, 599, rec.Code)
}
