package phikit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/phikit/phikit"
)

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}-[0-9a-f]{16}$`)

const (
	callerTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerParent = "00f067aa0ba902b7"
)

// seen is what the handler behind RequestID found in its context.
type seen struct {
	requestID, traceID     string
	requestIDok, traceIDok bool
}

func serveRequestID(t *testing.T, r *http.Request) (*httptest.ResponseRecorder, seen) {
	t.Helper()
	var s seen
	h := phikit.RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requestID, s.requestIDok = phikit.RequestIDFromContext(r.Context())
		s.traceID, s.traceIDok = phikit.TraceIDFromContext(r.Context())
		if got := w.Header().Get(phikit.RequestIDHeader); got != s.requestID {
			t.Errorf("X-Request-Id seen by handler: got %q, want %q", got, s.requestID)
		}
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec, s
}

func TestRequestID(t *testing.T) {
	valid := "00-" + callerTrace + "-" + callerParent + "-01"
	tests := []struct {
		name         string
		traceparent  []string
		xRequestID   string
		honoursTrace bool
	}{
		{"no traceparent", nil, "", false},
		{"valid traceparent", []string{valid}, "", true},
		{"valid future version", []string{"01-" + callerTrace + "-" + callerParent + "-01-extra"}, "", true},
		{"malformed traceparent", []string{"00-" + callerTrace + "-" + callerParent + "-0"}, "", false},
		{"upper-case traceparent", []string{strings.ToUpper(valid)}, "", false},
		{"version ff", []string{"ff" + valid[2:]}, "", false},
		{"two traceparents", []string{valid, valid}, "", false},
		{"client X-Request-Id ignored", nil, "client-chosen-id", false},
		{"client X-Request-Id ignored with traceparent", []string{valid}, callerTrace + "-0123456789abcdef", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
			for _, v := range tc.traceparent {
				r.Header.Add("Traceparent", v)
			}
			if tc.xRequestID != "" {
				r.Header.Set("X-Request-Id", tc.xRequestID)
			}
			rec, s := serveRequestID(t, r)

			if !s.requestIDok || !s.traceIDok {
				t.Fatalf("FromContext ok: got (%v, %v), want (true, true)", s.requestIDok, s.traceIDok)
			}
			hdr := rec.Header().Values(phikit.RequestIDHeader)
			if len(hdr) != 1 || hdr[0] != s.requestID {
				t.Errorf("X-Request-Id: got %q, want [%q]", hdr, s.requestID)
			}
			if !requestIDPattern.MatchString(s.requestID) {
				t.Errorf("request id: got %q, want match for %s", s.requestID, requestIDPattern)
			}
			if tc.xRequestID != "" && s.requestID == tc.xRequestID {
				t.Errorf("request id: got the client's %q, want a fresh one", s.requestID)
			}
			if !strings.HasPrefix(s.requestID, s.traceID+"-") {
				t.Errorf("request id: got %q, want prefix %q", s.requestID, s.traceID+"-")
			}
			if got := s.traceID == callerTrace; got != tc.honoursTrace {
				t.Errorf("trace id %q honours caller's %q: got %v, want %v", s.traceID, callerTrace, got, tc.honoursTrace)
			}
			if strings.HasSuffix(s.requestID, "-"+callerParent) {
				t.Errorf("request id: got %q, want a span id other than the caller's parent", s.requestID)
			}
		})
	}
}

func TestRequestIDDiffersAcrossRequests(t *testing.T) {
	tests := []struct {
		name        string
		traceparent string
	}{
		{"fresh traces", ""},
		{"one caller trace", "00-" + callerTrace + "-" + callerParent + "-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const n = 200
			ids := make(map[string]bool, n)
			for range n {
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				if tc.traceparent != "" {
					r.Header.Set("Traceparent", tc.traceparent)
				}
				rec, _ := serveRequestID(t, r)
				ids[rec.Header().Get(phikit.RequestIDHeader)] = true
			}
			if len(ids) != n {
				t.Errorf("distinct ids: got %d, want %d", len(ids), n)
			}
		})
	}
}

func TestFromContextWithoutRequestID(t *testing.T) {
	tests := []struct {
		name string
		get  func(context.Context) (string, bool)
	}{
		{"RequestIDFromContext", phikit.RequestIDFromContext},
		{"TraceIDFromContext", phikit.TraceIDFromContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := tc.get(context.Background()); got != "" || ok {
				t.Errorf("got (%q, %v), want (\"\", false)", got, ok)
			}
		})
	}
}

func TestNilNextPanics(t *testing.T) {
	tests := []struct {
		name      string
		mw        func(http.Handler) http.Handler
		wantPanic string
	}{
		{"RequestID", phikit.RequestID, "RequestID: next is nil"},
		{"SecureHeaders", phikit.SecureHeaders, "SecureHeaders: next is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got any
			func() {
				defer func() { got = recover() }()
				tc.mw(nil)
			}()
			if s, _ := got.(string); !strings.Contains(s, tc.wantPanic) {
				t.Errorf("panic: got %v, want it to contain %q", got, tc.wantPanic)
			}
		})
	}
}
