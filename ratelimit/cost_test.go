package ratelimit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit/ratelimit"
)

func TestFHIRCosts(t *testing.T) {
	cost, err := ratelimit.RouteCosts(1, ratelimit.FHIRCosts("/fhir"))
	if err != nil {
		t.Fatalf("RouteCosts(FHIRCosts): %v", err)
	}
	tests := []struct {
		method, target string
		want           int
	}{
		{"GET", "/fhir/Patient/123", 1},
		{"HEAD", "/fhir/Patient/123", 1},
		{"GET", "/fhir/Patient/123/_history/2", 1},
		{"GET", "/fhir/metadata", 1},
		{"PUT", "/fhir/Patient/123", 1},
		{"GET", "/fhir/Observation?patient=123", 5},
		{"HEAD", "/fhir/Observation", 5},
		{"POST", "/fhir/Observation/_search", 5},
		{"POST", "/fhir/Observation", 1}, // a create is not a search
		{"GET", "/fhir/Patient/123/_history", 5},
		{"GET", "/fhir/Patient/_history", 5},
		{"GET", "/fhir/_history", 5},
		{"POST", "/fhir", 10},
		{"POST", "/fhir/", 10},
		{"GET", "/fhir/Patient/123/$everything", 50},
		{"GET", "/fhir/$export", 100},
		{"POST", "/fhir/$export", 100},
		{"GET", "/fhir/Patient/$export", 100},
		{"GET", "/fhir/Group/g1/$export?_type=Observation", 100},
		{"GET", "/fhir/Group/g1/$export/", 1}, // not the operation
		{"GET", "/other/Patient", 1},
		{"GET", "/fhir/Patient/../$export", 100}, // charged as cleaned, whatever the router does
		{"GET", "/fhir//$export", 100},
		{"GET", "/fhir/%24export", 100}, // escaped
		{"GET", "/fhir/Patient/1/..", 5},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://api.example"+tt.target, nil)
			if got := cost(r); got != tt.want {
				t.Errorf("cost = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRouteCostsConfig(t *testing.T) {
	tests := []struct {
		name  string
		def   int
		costs map[string]int
		ok    bool
	}{
		{"none", 1, nil, true},
		{"one route", 2, map[string]int{"GET /a": 3}, true},
		{"zero default", 0, nil, false},
		{"negative cost", 1, map[string]int{"GET /a": -1}, false},
		{"zero cost", 1, map[string]int{"GET /a": 0}, false},
		{"bad pattern", 1, map[string]int{"GET /{": 2}, false},
		{"conflicting patterns", 1, map[string]int{"GET /a/{x}": 2, "/{y}/b": 3}, false},
		{"a trailing base slash is trimmed", 1, ratelimit.FHIRCosts("/r4/"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ratelimit.RouteCosts(tt.def, tt.costs)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ratelimit.ErrInvalidConfig)) || (err == nil) != (f != nil) {
				t.Errorf("RouteCosts: got %v, want ok=%v (errors wrap ErrInvalidConfig)", err, tt.ok)
			}
		})
	}
}

func TestRouteCostsChargeTheLimiter(t *testing.T) {
	cost, err := ratelimit.RouteCosts(1, map[string]int{"GET /fhir/$export": 10})
	if err != nil {
		t.Fatal(err)
	}
	lim, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 0.001, Burst: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ratelimit.New(ratelimit.Config{Limiter: lim, Cost: cost})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	do := func(target string) int {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.RemoteAddr = "192.0.2.1:1234"
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	if got := do("/fhir/Patient/1"); got != http.StatusOK {
		t.Fatalf("a read: got %d, want 200", got)
	}
	if got := do("/fhir/$export"); got != http.StatusTooManyRequests {
		t.Errorf("an export after a read (cost 10 with 9 left): got %d, want 429", got)
	}
	for i := range 9 {
		if got := do("/fhir/Patient/1"); got != http.StatusOK {
			t.Fatalf("read %d: got %d, want 200 (the refused export spent nothing)", i+2, got)
		}
	}
}
