package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
)

// fakeStore fails while down is set, and otherwise allows everything with Remaining 42.
type fakeStore struct {
	mu    sync.Mutex
	down  bool
	panic bool
	calls int
}

var errDown = errors.New("store down")

func (s *fakeStore) Allow(_ context.Context, _ string, _ int, l Limit) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.panic {
		panic("boom")
	}
	if s.down {
		return Result{}, errDown
	}
	return Result{Allowed: true, Limit: l.Burst, Remaining: 42}, nil
}

func (s *fakeStore) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }
func (s *fakeStore) n() int        { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

func TestStoreErrorModes(t *testing.T) {
	tests := []struct {
		name       string
		mode       StoreErrorMode
		wantStatus []int
		wantRetry  string
	}{
		{"fallback local", FallbackLocal, []int{204, 204, 429}, "1"},
		{"fail closed", FailClosed, []int{503, 503, 503}, "30"},
		{"insecure fail open", InsecureFailOpen, []int{204, 204, 204}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{down: true}
			var logs bytes.Buffer
			m, _ := newTestMiddleware(t, Config{Store: st, OnStoreError: tt.mode, BreakerCooldown: 30 * time.Second,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}, LimiterConfig{Rate: 1, Burst: 2})
			h := m.Handler(okHandler)
			var rec interface{ Result() *http.Response }
			for i, want := range tt.wantStatus {
				r := serve(h, "203.0.113.9:1234", nil)
				rec = r
				if r.Code != want {
					t.Errorf("request %d: status %d, want %d", i, r.Code, want)
				}
			}
			if got := rec.Result().Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("last Retry-After %q, want %q", got, tt.wantRetry)
			}
			if got := strings.Count(logs.String(), "store failed"); got != 1 {
				t.Errorf("logged the failure %d times, want once:\n%s", got, logs.String())
			}
			if strings.Contains(rec.Result().Header.Get("RateLimit"), "203.0.113.9") {
				t.Error("response echoes the client address")
			}
		})
	}
}

func TestStoreUsedWhenUp(t *testing.T) {
	st := &fakeStore{}
	m, _ := newTestMiddleware(t, Config{Store: st}, LimiterConfig{Rate: 1, Burst: 2})
	rec := serve(m.Handler(okHandler), "203.0.113.9:1234", nil)
	if rec.Code != 204 || rec.Header().Get("RateLimit") != `"default";r=42;t=0` {
		t.Errorf("status %d, RateLimit %q; want 204 with the store's r=42", rec.Code, rec.Header().Get("RateLimit"))
	}
	if d := m.Decide(serveReq()); d.Fallback || d.Unavailable || !d.Allowed {
		t.Errorf("Decide %+v, want allowed by the store", d)
	}
}

func serveReq() *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.9:1234"
	return r
}

func TestStorePanicIsAnError(t *testing.T) {
	st := &fakeStore{panic: true}
	m, _ := newTestMiddleware(t, Config{Store: st, OnStoreError: FailClosed}, LimiterConfig{Rate: 1, Burst: 2})
	if d := m.Decide(serveReq()); !d.Unavailable {
		t.Errorf("Decide %+v, want Unavailable", d)
	}
}

func TestCircuitBreaker(t *testing.T) {
	st := &fakeStore{down: true}
	m, c := newTestMiddleware(t, Config{Store: st, BreakerThreshold: 3, BreakerCooldown: 10 * time.Second},
		LimiterConfig{Rate: 100, Burst: 100})
	steps := []struct {
		name      string
		advance   time.Duration
		down      bool
		wantCalls int // store calls so far
		wantFall  bool
	}{
		{"error 1", 0, true, 1, true},
		{"error 2", 0, true, 2, true},
		{"error 3 opens", 0, true, 3, true},
		{"open: skipped", 0, true, 3, true},
		{"open, store back: still skipped", 9 * time.Second, false, 3, true},
		{"cool-down over, still down: one try, reopens", time.Second, true, 4, true},
		{"reopened: skipped", 5 * time.Second, true, 4, true},
		{"cool-down over, store back", 5 * time.Second, false, 5, false},
		{"closed: store used", 0, false, 6, false},
		{"one error: not open", 0, true, 7, true},
		{"next request tries the store", 0, false, 8, false},
	}
	for _, s := range steps {
		c.Advance(s.advance)
		st.set(s.down)
		d := m.Decide(serveReq())
		if got := st.n(); got != s.wantCalls {
			t.Errorf("%s: %d store calls, want %d", s.name, got, s.wantCalls)
		}
		if d.Fallback != s.wantFall {
			t.Errorf("%s: Fallback %v, want %v", s.name, d.Fallback, s.wantFall)
		}
	}
}

func TestNewStoreConfigErrors(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1})
	for _, cfg := range []Config{
		{Limiter: l, OnStoreError: InsecureFailOpen + 1},
		{Limiter: l, OnStoreError: -1},
		{Limiter: l, StoreTimeout: -1},
		{Limiter: l, BreakerThreshold: -1},
		{Limiter: l, BreakerCooldown: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

func TestCircuitBreakerConcurrent(t *testing.T) {
	st := &fakeStore{down: true}
	m, c := newTestMiddleware(t, Config{Store: st, BreakerThreshold: 3, BreakerCooldown: time.Second},
		LimiterConfig{Rate: 1e6, Burst: 1000})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if g == 0 && i%50 == 0 {
					c.Advance(time.Second)
					st.set(i%100 == 0)
				}
				if d := m.Decide(serveReq()); d.Unavailable {
					t.Errorf("FallbackLocal: Decide %+v, want no Unavailable", d)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := st.n(); n >= 800 {
		t.Errorf("%d store calls for 800 requests, want the breaker to skip some", n)
	}
}

// A decision taken while the store fails is noted in the audit event.
func TestFallbackIsNotedInTheAuditEvent(t *testing.T) {
	for _, tt := range []struct {
		mode StoreErrorMode
		note string
	}{{FallbackLocal, "ratelimit.fallback"}, {InsecureFailOpen, "ratelimit.fail-open"}} {
		lim, err := NewLimiter(LimiterConfig{Rate: 1, Burst: 5})
		if err != nil {
			t.Fatal(err)
		}
		m, err := New(Config{Limiter: lim, Store: &fakeStore{down: true}, OnStoreError: tt.mode})
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
			notes = e.Notes
			return nil
		})})
		if err != nil {
			t.Fatal(err)
		}
		aud.Handler(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))).
			ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if len(notes) != 1 || notes[0] != tt.note {
			t.Errorf("%v: notes %v, want [%s]", tt.mode, notes, tt.note)
		}
	}
}
