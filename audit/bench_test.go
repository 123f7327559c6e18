package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/reqid"
)

// slogSink records the same fields as JSONLines through log/slog's JSON handler: the
// baseline a team writing its own audit logging would reach for.
type slogSink struct{ l *slog.Logger }

func (s slogSink) Write(ctx context.Context, e *audit.Event) error {
	attrs := []slog.Attr{
		slog.String("request_id", e.RequestID),
		slog.String("trace_id", e.TraceID),
		slog.String("span_id", e.SpanID),
		slog.String("action", string(e.Action)),
		slog.String("outcome", string(e.Outcome)),
		slog.String("method", e.Method),
		slog.String("path", e.Path),
		slog.String("route", e.Route),
		slog.Int("status", e.Status),
		slog.Int64("bytes", e.Bytes),
		slog.Duration("latency_ns", e.Latency),
		slog.Group("agent",
			slog.String("subject", e.Agent.Subject),
			slog.String("client", e.Agent.Client),
			slog.Any("roles", e.Agent.Roles),
			slog.String("auth_method", e.Agent.AuthMethod),
			slog.String("address", e.Agent.Address)),
		slog.Group("source", slog.String("service", e.Source.Service)),
		slog.Any("entity", e.Entities),
		slog.Any("purpose_of_use", e.PurposeOfUse),
		slog.Group("decision", slog.Bool("allow", e.Decision.Allow), slog.Any("reasons", e.Decision.Reasons)),
	}
	s.l.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
	return nil
}

// BenchmarkMiddleware measures what one audited request costs: a bare handler, the audit
// middleware with the JSON-lines sink writing to io.Discard, and the same middleware
// logging the same fields through slog.JSONHandler.
func BenchmarkMiddleware(b *testing.B) {
	roles := []string{"physician"}
	reasons := []string{"scope patient/Patient.rs"}
	purpose := []string{"TREAT"}
	body := []byte(`{"resourceType":"Patient","id":"pat-1"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Agent.Subject, e.Agent.Client, e.Agent.Roles, e.Agent.AuthMethod = "dr-who", "smart-app", roles, "jwt"
			e.AddPatient("pat-1")
			e.AddResource("Patient", "pat-1")
			e.PurposeOfUse = purpose
			e.Decision = &audit.Decision{Allow: true, Reasons: reasons}
		})
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write(body)
	})
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = w.Write(body)
	})
	newMW := func(s audit.Sink) http.Handler {
		m, err := audit.New(audit.Config{Sink: s, Service: "clinic"})
		if err != nil {
			b.Fatal(err)
		}
		return m.Handler(handler)
	}
	cases := []struct {
		name string
		h    http.Handler
	}{
		{"bare", bare},
		{"audit-jsonl", newMW(audit.NewJSONLines(io.Discard))},
		{"audit-slog", newMW(slogSink{slog.New(slog.NewJSONHandler(io.Discard, nil))})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			// The ids RequestID, outside the audit middleware, would have put there.
			r := httptest.NewRequest("GET", "/fhir/Patient/pat-1", nil)
			r = r.WithContext(reqid.NewContext(r.Context(), reqid.New(nil)))
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkAppendJSON measures the event encoder alone.
func BenchmarkAppendJSON(b *testing.B) {
	e := fullEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
