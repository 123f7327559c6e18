package phikit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/phikit/phikit"
)

// tracer returns a middleware that appends name+" in" and name+" out" to *log around the
// next handler.
func tracer(log *[]string, name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*log = append(*log, name+" in")
			next.ServeHTTP(w, r)
			*log = append(*log, name+" out")
		})
	}
}

func TestChainOrder(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"none", nil, []string{"handler"}},
		{"one", []string{"a"}, []string{"a in", "handler", "a out"}},
		{"three, first is outermost", []string{"a", "b", "c"},
			[]string{"a in", "b in", "c in", "handler", "c out", "b out", "a out"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log []string
			var mws []func(http.Handler) http.Handler
			for _, n := range tc.names {
				mws = append(mws, tracer(&log, n))
			}
			h := phikit.Chain(mws...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				log = append(log, "handler")
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if !slices.Equal(log, tc.want) {
				t.Errorf("call order: got %q, want %q", log, tc.want)
			}
		})
	}
}

func TestChainEmptyKeepsHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("short and stout"))
	})
	tests := []struct {
		name  string
		chain func(http.Handler) http.Handler
	}{
		{"no arguments", phikit.Chain()},
		{"empty slice", phikit.Chain([]func(http.Handler) http.Handler{}...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.chain(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusTeapot {
				t.Errorf("status: got %d, want %d", rec.Code, http.StatusTeapot)
			}
			if got := rec.Body.String(); got != "short and stout" {
				t.Errorf("body: got %q, want %q", got, "short and stout")
			}
			if got := rec.Header().Get("X-Handler"); got != "yes" {
				t.Errorf("X-Handler: got %q, want %q", got, "yes")
			}
			if got := len(rec.Header()); got != 1 {
				t.Errorf("header count: got %d (%v), want 1", got, rec.Header())
			}
		})
	}
}

func TestChainCopiesArguments(t *testing.T) {
	var log []string
	mws := []func(http.Handler) http.Handler{tracer(&log, "a"), tracer(&log, "b")}
	chain := phikit.Chain(mws...)
	mws[0] = tracer(&log, "replaced")
	chain(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	want := []string{"a in", "b in", "b out", "a out"}
	if !slices.Equal(log, want) {
		t.Errorf("call order: got %q, want %q", log, want)
	}
}

func TestChainPanicsOnNil(t *testing.T) {
	ok := func(next http.Handler) http.Handler { return next }
	tests := []struct {
		name      string
		mws       []func(http.Handler) http.Handler
		wantPanic string // "" means no panic
	}{
		{"all set", []func(http.Handler) http.Handler{ok, ok}, ""},
		{"nil first", []func(http.Handler) http.Handler{nil, ok}, "middleware 0 is nil"},
		{"nil third", []func(http.Handler) http.Handler{ok, ok, nil}, "middleware 2 is nil"},
		{"only nil", []func(http.Handler) http.Handler{nil}, "middleware 0 is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := func() (msg string) {
				defer func() {
					if v := recover(); v != nil {
						msg = fmt.Sprint(v)
					}
				}()
				phikit.Chain(tc.mws...) // panics when called, not when applied
				return ""
			}()
			if tc.wantPanic == "" {
				if got != "" {
					t.Errorf("panic: got %q, want none", got)
				}
				return
			}
			if !strings.Contains(got, tc.wantPanic) {
				t.Errorf("panic: got %q, want it to contain %q", got, tc.wantPanic)
			}
		})
	}
}
