package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/problem"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })

func newTestMiddleware(t *testing.T, cfg Config, lcfg LimiterConfig) (*Middleware, *fakeClock) {
	t.Helper()
	l, c := newTestLimiter(t, lcfg)
	cfg.Limiter = l
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

func serve(h http.Handler, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMiddlewareHeaders(t *testing.T) {
	m, c := newTestMiddleware(t, Config{Policy: "per-ip", Legacy: true}, LimiterConfig{Rate: 1, Burst: 2})
	h := m.Handler(okHandler)
	tests := []struct {
		name          string
		advance       time.Duration
		wantStatus    int
		wantRateLimit string
		wantRetry     string
		wantLegacy    [3]string
	}{
		{"first", 0, 204, `"per-ip";r=1;t=1`, "", [3]string{"2", "1", "1"}},
		{"second", 0, 204, `"per-ip";r=0;t=2`, "", [3]string{"2", "0", "2"}},
		{"refused", 0, 429, `"per-ip";r=0;t=1`, "1", [3]string{"2", "0", "1"}},
		{"refused, rounded up", 100 * time.Millisecond, 429, `"per-ip";r=0;t=1`, "1", [3]string{"2", "0", "1"}},
		{"allowed again", 900 * time.Millisecond, 204, `"per-ip";r=0;t=2`, "", [3]string{"2", "0", "2"}},
	}
	for _, tt := range tests {
		c.Advance(tt.advance)
		rec := serve(h, "203.0.113.9:1234", nil)
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.wantStatus)
		}
		hd := rec.Header()
		if got, want := hd.Get("RateLimit-Policy"), `"per-ip";q=2;w=2`; got != want {
			t.Errorf("%s: RateLimit-Policy %q, want %q", tt.name, got, want)
		}
		if got := hd.Get("RateLimit"); got != tt.wantRateLimit {
			t.Errorf("%s: RateLimit %q, want %q", tt.name, got, tt.wantRateLimit)
		}
		if got := hd.Get("Retry-After"); got != tt.wantRetry {
			t.Errorf("%s: Retry-After %q, want %q", tt.name, got, tt.wantRetry)
		}
		got := [3]string{hd.Get("X-RateLimit-Limit"), hd.Get("X-RateLimit-Remaining"), hd.Get("X-RateLimit-Reset")}
		if got != tt.wantLegacy {
			t.Errorf("%s: X-RateLimit-* %q, want %q", tt.name, got, tt.wantLegacy)
		}
	}
}

func TestMiddlewareRefusal(t *testing.T) {
	m, _ := newTestMiddleware(t, Config{}, LimiterConfig{Rate: 0.1, Burst: 1})
	var events []audit.Event
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		events = append(events, *e)
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	h := aud.Handler(m.Handler(okHandler))
	serve(h, "203.0.113.9:1234", nil)
	rec := serve(h, "203.0.113.9:1234", nil)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After %q, want %q", got, "10")
	}
	if got := rec.Header().Get("RateLimit-Policy"); got != `"default";q=1;w=10` {
		t.Errorf("RateLimit-Policy %q, want %q", got, `"default";q=1;w=10`)
	}
	if rec.Header().Get("X-RateLimit-Limit") != "" {
		t.Error("legacy fields sent without Legacy")
	}
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != problem.RateLimited || p.Status != 429 {
		t.Errorf("problem %+v, want type %s status 429", p, problem.RateLimited)
	}
	// Never echo the client address.
	dump := rec.Body.String()
	for k, v := range rec.Header() {
		dump += k + ": " + strings.Join(v, ",") + "\n"
	}
	if strings.Contains(dump, "203.0.113") {
		t.Errorf("response echoes the client address:\n%s", dump)
	}
	if len(events) != 2 {
		t.Fatalf("%d audit events, want 2", len(events))
	}
	if events[0].Rejection != "" {
		t.Errorf("allowed request: Rejection %q, want none", events[0].Rejection)
	}
	if events[1].Rejection != RejectionRateLimited {
		t.Errorf("refused request: Rejection %q, want %q", events[1].Rejection, RejectionRateLimited)
	}
}

func TestMiddlewareKeys(t *testing.T) {
	res, err := NewResolver(ResolverConfig{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := newTestMiddleware(t, Config{
		Resolver: res,
		Key: func(r *http.Request) (string, bool) {
			if u := r.Header.Get("X-Test-User"); u != "" {
				return "user:" + u, true
			}
			return "", false
		},
	}, LimiterConfig{Rate: 1, Burst: 1})
	h := m.Handler(okHandler)
	tests := []struct {
		name   string
		remote string
		hdr    map[string]string
		want   int
	}{
		{"alice", "203.0.113.1:1", map[string]string{"X-Test-User": "alice"}, 204},
		{"alice from elsewhere", "198.51.100.1:1", map[string]string{"X-Test-User": "alice"}, 429},
		{"bob", "203.0.113.1:1", map[string]string{"X-Test-User": "bob"}, 204},
		{"no key: client address", "10.0.0.1:1", map[string]string{"X-Forwarded-For": "203.0.113.50"}, 204},
		{"same client via proxy", "10.0.0.2:1", map[string]string{"X-Forwarded-For": "203.0.113.50"}, 429},
		{"spoof from untrusted peer", "203.0.113.50:1", map[string]string{"X-Forwarded-For": "192.0.2.1"}, 429},
		{"same IPv6 /64", "[2001:db8:1:2::1]:1", nil, 204},
		{"other address in the /64", "[2001:db8:1:2::ffff]:1", nil, 429},
		{"next /64", "[2001:db8:1:3::1]:1", nil, 204},
		{"unix peer", "@", nil, 204},
		{"another unix peer shares the bucket", "", nil, 429},
		{"a bare-IP peer (not as net/http writes it) shares it too", "198.51.100.77", nil, 429},
	}
	for _, tt := range tests {
		if rec := serve(h, tt.remote, tt.hdr); rec.Code != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, rec.Code, tt.want)
		}
	}
}

func TestMiddlewareCostAndErrorHandler(t *testing.T) {
	var gotErr error
	m, _ := newTestMiddleware(t, Config{
		Cost: func(r *http.Request) int {
			if strings.HasPrefix(r.URL.Path, "/$export") {
				return 5
			}
			return 1
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			gotErr = err
			w.WriteHeader(http.StatusServiceUnavailable)
		},
	}, LimiterConfig{Rate: 1, Burst: 5})
	h := m.Handler(okHandler)
	do := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = "203.0.113.9:1"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("/Patient/1"); rec.Code != 204 {
		t.Fatalf("read: status %d, want 204", rec.Code)
	}
	rec := do("/$export")
	if rec.Code != 503 || !errors.Is(gotErr, ErrRateLimited) {
		t.Fatalf("export: status %d err %v, want 503 and ErrRateLimited", rec.Code, gotErr)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("export: Retry-After %q, want %q", got, "1")
	}
}

func TestMiddlewareCostAboveBurst(t *testing.T) {
	m, _ := newTestMiddleware(t, Config{Cost: func(*http.Request) int { return 9 }}, LimiterConfig{Rate: 1, Burst: 5})
	rec := serve(m.Handler(okHandler), "203.0.113.9:1", nil)
	if rec.Code != 429 {
		t.Fatalf("status %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After %q, want the window %q", got, "5")
	}
}

func TestNewErrors(t *testing.T) {
	l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1})
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"ok", Config{Limiter: l}, false},
		{"policy name", Config{Limiter: l, Policy: "per-ip_v1.2"}, false},
		{"no limiter", Config{}, true},
		{"quote in policy", Config{Limiter: l, Policy: `a"b`}, true},
		{"space in policy", Config{Limiter: l, Policy: "a b"}, true},
		{"long policy", Config{Limiter: l, Policy: strings.Repeat("a", 65)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want one wrapping ErrInvalidConfig", err)
			}
		})
	}
}

func TestMiddlewareChainKeepsBothPolicies(t *testing.T) {
	outer, _ := newTestMiddleware(t, Config{Policy: "per-address"}, LimiterConfig{Rate: 100, Burst: 200})
	inner, _ := newTestMiddleware(t, Config{Policy: "per-user", Key: func(*http.Request) (string, bool) { return "u1", true }},
		LimiterConfig{Rate: 1, Burst: 1})
	h := outer.Handler(inner.Handler(okHandler))
	serve(h, "203.0.113.9:1", nil)
	rec := serve(h, "203.0.113.9:1", nil)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429 from the inner limiter", rec.Code)
	}
	if got, want := rec.Header().Values("RateLimit-Policy"), []string{`"per-address";q=200;w=2`, `"per-user";q=1;w=1`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RateLimit-Policy lines %q, want %q", got, want)
	}
	if got, want := rec.Header().Values("RateLimit"), []string{`"per-address";r=198;t=1`, `"per-user";r=0;t=1`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("RateLimit lines %q, want %q", got, want)
	}
}
