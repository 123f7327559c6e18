package ratelimit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/problem"
)

func newTestConcurrency(t testing.TB, cfg ConcurrencyConfig) (*Concurrency, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	c, err := NewConcurrency(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

// concWindow feeds c one sample window that closes on its last release: peak permits
// are taken at once (those refused count as shed), then oks successes and drops
// dropped requests of latency lat are released; permits left over are released as
// ignored before the last sample, which is released at the window's end. It returns
// the number of requests refused.
func concWindow(t *testing.T, c *Concurrency, peak, oks, drops int, lat time.Duration) (shed int) {
	t.Helper()
	end := c.epoch.Add(time.Duration(c.windowEnd.Load()))
	at := end.Add(-lat)
	var pool []Permit
	for range peak {
		p, ok := c.AcquireAt(at)
		if !ok {
			shed++
			continue
		}
		pool = append(pool, p)
	}
	outcomes := make([]Outcome, 0, oks+drops)
	for range drops {
		outcomes = append(outcomes, OutcomeDropped)
	}
	for range oks {
		outcomes = append(outcomes, OutcomeSuccess)
	}
	take := func() Permit {
		if len(pool) > 0 {
			p := pool[0]
			pool = pool[1:]
			return p
		}
		p, ok := c.AcquireAt(at)
		if !ok {
			t.Fatalf("acquire refused at in-flight %d, limit %d", c.InFlight(), c.Limit())
		}
		return p
	}
	for _, o := range outcomes[:len(outcomes)-1] {
		take().ReleaseAt(end.Add(-time.Nanosecond), o)
	}
	last := take()
	for _, p := range pool {
		p.ReleaseAt(end.Add(-time.Nanosecond), OutcomeIgnored)
	}
	last.ReleaseAt(end, outcomes[len(outcomes)-1])
	if n := c.InFlight(); n != 0 {
		t.Fatalf("in flight after the window: got %d, want 0", n)
	}
	return shed
}

// The limit over a sequence of windows, each with the limit fully in use (peak = limit)
// and 10 samples of the given latency. Tolerance 2, so a window is slow when its
// average is above twice the baseline.
func TestConcurrencyAdjustsToLatency(t *testing.T) {
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 20, MinLimit: 4, MaxLimit: 50})
	steps := []struct {
		name string
		lat  time.Duration
		want int
	}{
		// First window sets the baseline (10ms); fast windows in use add √limit.
		{"baseline set, increase", 10 * time.Millisecond, 24}, // 20 + √20 = 24.47
		{"fast, increase", 10 * time.Millisecond, 29},         // 24.47 + 4.95 = 29.42
		{"fast, increase", 10 * time.Millisecond, 34},
		{"fast, increase", 10 * time.Millisecond, 40},
		{"fast, increase", 10 * time.Millisecond, 47},
		{"fast, capped at MaxLimit", 10 * time.Millisecond, 50},
		{"fast, stays at MaxLimit", 10 * time.Millisecond, 50},
		{"within tolerance (2×), increase held at max", 19 * time.Millisecond, 50},
		// Baseline now 10.45ms. 4× the baseline: decrease by the largest factor, 0.5.
		{"slow, halved", 45 * time.Millisecond, 25},
		{"slow, decrease in proportion", 45 * time.Millisecond, 13}, // × 2·12.18/45
		{"slow, decrease", 45 * time.Millisecond, 8},
		{"slow, decrease", 45 * time.Millisecond, 5},
		{"slow, floored at MinLimit", 45 * time.Millisecond, 4},
		{"slow, stays at MinLimit", 45 * time.Millisecond, 4},
		{"slow, stays at MinLimit", 45 * time.Millisecond, 4},
		{"slow, stays at MinLimit", 45 * time.Millisecond, 4},
		{"slow, stays at MinLimit", 45 * time.Millisecond, 4}, // baseline 23.2ms after it
		// The baseline has drifted up past half of 45ms: 45ms is the new normal, and the
		// limit recovers though latency stays where it is.
		{"lasting latency becomes the baseline", 45 * time.Millisecond, 6},
		{"lasting latency becomes the baseline", 45 * time.Millisecond, 8},
		{"lasting latency becomes the baseline", 45 * time.Millisecond, 11},
		// Latency falls: the baseline follows it down fast, the limit goes up.
		{"latency falls, increase", 10 * time.Millisecond, 14},
		{"fast, increase", 10 * time.Millisecond, 18},
		{"fast, increase", 10 * time.Millisecond, 22},
		{"fast, increase", 10 * time.Millisecond, 27}, // baseline 11.0ms after it
		// And a new rise is caught against the lower baseline.
		{"slow again, decrease", 40 * time.Millisecond, 15},
	}
	for i, s := range steps {
		concWindow(t, c, c.Limit(), 10, 0, s.lat)
		if got := c.Limit(); got != s.want {
			t.Fatalf("step %d (%s, %v): limit %d, want %d (baseline %v)", i, s.name, s.lat, got, s.want, time.Duration(c.baseline))
		}
	}
}

// Each row starts from a limiter whose baseline is 10ms and limit 20 (MinLimit 4,
// MaxLimit 100), and feeds one window.
func TestConcurrencyWindowSignals(t *testing.T) {
	tests := []struct {
		name        string
		peak        int // permits held at once; above 20 the rest are shed
		oks, drops  int
		lat         time.Duration
		want        int
		wantSamples bool // the window closed (its samples were consumed)
	}{
		{"fast, in use: increase", 20, 10, 0, 10 * time.Millisecond, 24, true},
		{"fast, half in use: increase", 10, 10, 0, 10 * time.Millisecond, 24, true},
		{"fast, not in use: unchanged", 9, 10, 0, 10 * time.Millisecond, 20, true},
		{"fast, shedding counts as in use", 25, 10, 0, 10 * time.Millisecond, 24, true},
		{"slow, in use: decrease", 20, 10, 0, 30 * time.Millisecond, 13, true}, // × 20/30
		{"slow, not in use: unchanged", 5, 10, 0, 30 * time.Millisecond, 20, true},
		{"very slow: at most halved", 20, 10, 0, time.Second, 10, true},
		{"barely slow: at least × 0.9", 20, 10, 0, 21 * time.Millisecond, 18, true},
		{"drops over a tenth, not in use: × 0.9", 5, 9, 2, 10 * time.Millisecond, 18, true},
		{"drops exactly a tenth: not overload", 20, 18, 2, 10 * time.Millisecond, 24, true},
		{"drops only: × 0.9", 20, 0, 10, 10 * time.Millisecond, 18, true},
		{"drops and slow: the larger decrease", 20, 8, 2, 40 * time.Millisecond, 10, true},
		{"fewer than 10 samples: window stays open", 20, 9, 0, 10 * time.Millisecond, 20, false},
		{"fewer than 10 samples, slow: window stays open", 20, 5, 4, time.Second, 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 20, MinLimit: 4, MaxLimit: 100})
			concWindow(t, c, 1, 10, 0, 10*time.Millisecond) // baseline 10ms, not in use
			if got := c.Limit(); got != 20 {
				t.Fatalf("after the first window: limit %d, want 20", got)
			}
			concWindow(t, c, tt.peak, tt.oks, tt.drops, tt.lat)
			if got := c.Limit(); got != tt.want {
				t.Errorf("limit %d, want %d", got, tt.want)
			}
			if got := c.okCount.Load()+c.drops.Load() == 0; got != tt.wantSamples {
				t.Errorf("window closed %v, want %v", got, tt.wantSamples)
			}
		})
	}
}

// Ignored outcomes free the slot and leave no sample, so they never close a window.
func TestConcurrencyIgnoredGivesNoSample(t *testing.T) {
	c, clk := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 2, MinLimit: 1, MaxLimit: 2})
	for range 20 {
		p, ok := c.Acquire()
		if !ok {
			t.Fatal("acquire refused")
		}
		clk.Advance(time.Second)
		p.Release(OutcomeIgnored)
	}
	if got := c.InFlight(); got != 0 {
		t.Errorf("in flight %d, want 0", got)
	}
	if got := c.okCount.Load() + c.drops.Load(); got != 0 {
		t.Errorf("samples %d, want 0", got)
	}
	if got := c.Limit(); got != 2 {
		t.Errorf("limit %d, want 2", got)
	}
}

func TestConcurrencyAcquireAtLimit(t *testing.T) {
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 2, MinLimit: 1, MaxLimit: 4})
	steps := []struct {
		name    string
		acquire bool // else release the oldest permit
		wantOK  bool
		wantIn  int
	}{
		{"first", true, true, 1},
		{"second", true, true, 2},
		{"third refused", true, false, 2},
		{"release one", false, true, 1},
		{"third allowed", true, true, 2},
		{"fourth refused", true, false, 2},
	}
	var held []Permit
	for _, s := range steps {
		ok := true
		if s.acquire {
			var p Permit
			p, ok = c.Acquire()
			if ok {
				held = append(held, p)
			} else if p != (Permit{}) {
				t.Errorf("%s: refused with a non-zero permit", s.name)
			}
		} else {
			held[0].Release(OutcomeSuccess)
			held = held[1:]
		}
		if ok != s.wantOK {
			t.Errorf("%s: ok %v, want %v", s.name, ok, s.wantOK)
		}
		if got := c.InFlight(); got != s.wantIn {
			t.Errorf("%s: in flight %d, want %d", s.name, got, s.wantIn)
		}
	}
}

func TestConcurrencyReleaseTwiceOrZero(t *testing.T) {
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	Permit{}.Release(OutcomeSuccess)
	Permit{}.ReleaseAt(time.Now(), OutcomeDropped)
	if got := c.InFlight(); got != 0 {
		t.Fatalf("zero permit released: in flight %d, want 0", got)
	}
	p, ok := c.Acquire()
	if !ok {
		t.Fatal("acquire refused")
	}
	p.Release(OutcomeIgnored)
	p.Release(OutcomeIgnored) // a bug in the caller; must not open a second slot
	if got := c.InFlight(); got != 0 {
		t.Errorf("released twice: in flight %d, want 0", got)
	}
	if _, ok := c.Acquire(); !ok {
		t.Fatal("acquire refused")
	}
	if _, ok := c.Acquire(); ok {
		t.Error("second acquire allowed at limit 1 after a double release")
	}
}

func TestNewConcurrencyConfig(t *testing.T) {
	tests := []struct {
		name               string
		cfg                ConcurrencyConfig
		wantErr            bool
		wantInit, min, max int
	}{
		{"zero value: defaults", ConcurrencyConfig{}, false, 20, 4, 200},
		{"all set", ConcurrencyConfig{InitialLimit: 5, MinLimit: 2, MaxLimit: 9}, false, 5, 2, 9},
		{"min = initial = max", ConcurrencyConfig{InitialLimit: 3, MinLimit: 3, MaxLimit: 3}, false, 3, 3, 3},
		{"small max pulls the defaults down", ConcurrencyConfig{MaxLimit: 3}, false, 3, 3, 3},
		{"large min pulls the initial up", ConcurrencyConfig{MinLimit: 50}, false, 50, 50, 200},
		{"negative initial", ConcurrencyConfig{InitialLimit: -1}, true, 0, 0, 0},
		{"negative min", ConcurrencyConfig{MinLimit: -1}, true, 0, 0, 0},
		{"negative max", ConcurrencyConfig{MaxLimit: -1}, true, 0, 0, 0},
		{"min above max", ConcurrencyConfig{MinLimit: 10, MaxLimit: 5}, true, 0, 0, 0},
		{"min above default max", ConcurrencyConfig{MinLimit: 201}, true, 0, 0, 0},
		{"initial below min", ConcurrencyConfig{InitialLimit: 2, MinLimit: 3}, true, 0, 0, 0},
		{"initial above max", ConcurrencyConfig{InitialLimit: 300}, true, 0, 0, 0},
		{"tolerance 1", ConcurrencyConfig{LatencyTolerance: 1}, false, 20, 4, 200},
		{"tolerance below 1", ConcurrencyConfig{LatencyTolerance: 0.9}, true, 0, 0, 0},
		{"tolerance negative", ConcurrencyConfig{LatencyTolerance: -2}, true, 0, 0, 0},
		{"tolerance NaN", ConcurrencyConfig{LatencyTolerance: math.NaN()}, true, 0, 0, 0},
		{"tolerance +Inf", ConcurrencyConfig{LatencyTolerance: math.Inf(1)}, true, 0, 0, 0},
		{"window set", ConcurrencyConfig{SampleWindow: time.Millisecond}, false, 20, 4, 200},
		{"negative window", ConcurrencyConfig{SampleWindow: -time.Second}, true, 0, 0, 0},
		{"negative retry-after", ConcurrencyConfig{RetryAfter: -time.Second}, true, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewConcurrency(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("error %v, want ErrInvalidConfig", err)
				}
				if c != nil {
					t.Error("limiter returned with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, want none", err)
			}
			if got := c.Limit(); got != tt.wantInit {
				t.Errorf("limit %d, want %d", got, tt.wantInit)
			}
			if got := int(c.minLimit); got != tt.min {
				t.Errorf("min %d, want %d", got, tt.min)
			}
			if got := int(c.maxLimit); got != tt.max {
				t.Errorf("max %d, want %d", got, tt.max)
			}
		})
	}
}

// concAudit returns an audit middleware whose events are appended to *events.
func concAudit(t *testing.T, events *[]audit.Event) *audit.Middleware {
	t.Helper()
	var mu sync.Mutex
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error {
		mu.Lock()
		*events = append(*events, *e)
		mu.Unlock()
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	return aud
}

func TestConcurrencyHandlerSheds(t *testing.T) {
	tests := []struct {
		name          string
		held          int // permits held by other requests
		retryAfter    time.Duration
		wantStatus    int
		wantRetry     string
		wantRejection string
	}{
		{"below the limit", 1, 0, http.StatusNoContent, "", ""},
		{"at the limit", 2, 0, http.StatusServiceUnavailable, "1", RejectionOverloaded},
		{"below the limit, RetryAfter set", 0, 2500 * time.Millisecond, http.StatusNoContent, "", ""},
		{"at the limit, RetryAfter rounded up", 2, 2500 * time.Millisecond, http.StatusServiceUnavailable, "3", RejectionOverloaded},
		{"at the limit, RetryAfter under a second", 2, time.Millisecond, http.StatusServiceUnavailable, "1", RejectionOverloaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 2, MinLimit: 1, MaxLimit: 2, RetryAfter: tt.retryAfter})
			for range tt.held {
				if _, ok := c.Acquire(); !ok {
					t.Fatal("acquire refused")
				}
			}
			var events []audit.Event
			served := false
			h := concAudit(t, &events).Handler(c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served = true
				w.WriteHeader(http.StatusNoContent)
			})))
			req := httptest.NewRequest(http.MethodGet, "/Patient/123?name=Jane", nil)
			req.RemoteAddr = "203.0.113.9:1234"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if served != (tt.wantStatus == http.StatusNoContent) {
				t.Errorf("next served %v, want %v", served, !served)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetry)
			}
			if len(events) != 1 {
				t.Fatalf("%d audit events, want 1", len(events))
			}
			if got := events[0].Rejection; got != tt.wantRejection {
				t.Errorf("Rejection %q, want %q", got, tt.wantRejection)
			}
			if got := c.InFlight(); got != tt.held {
				t.Errorf("in flight after the request: %d, want %d", got, tt.held)
			}
			if tt.wantStatus != http.StatusServiceUnavailable {
				return
			}
			var p problem.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != problem.Unavailable || p.Status != http.StatusServiceUnavailable {
				t.Errorf("problem type %s status %d, want %s 503", p.Type, p.Status, problem.Unavailable)
			}
			dump := rec.Body.String()
			for k, v := range rec.Header() {
				dump += k + ": " + strings.Join(v, ",") + "\n"
			}
			for _, s := range []string{"203.0.113", "Jane", "Patient/123"} {
				if strings.Contains(dump, s) {
					t.Errorf("response echoes %q:\n%s", s, dump)
				}
			}
		})
	}
}

func TestConcurrencyErrorHandler(t *testing.T) {
	var gotErr error
	var gotRetry string
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			gotErr, gotRetry = err, w.Header().Get("Retry-After")
			w.WriteHeader(http.StatusTooManyRequests)
		}})
	if _, ok := c.Acquire(); !ok {
		t.Fatal("acquire refused")
	}
	rec := httptest.NewRecorder()
	c.Handler(okHandler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429 from the ErrorHandler", rec.Code)
	}
	if !errors.Is(gotErr, ErrOverloaded) {
		t.Errorf("ErrorHandler got %v, want ErrOverloaded", gotErr)
	}
	if gotRetry != "1" {
		t.Errorf("Retry-After when the ErrorHandler runs: %q, want %q", gotRetry, "1")
	}
}

// concHijackRecorder is a ResponseRecorder that can be hijacked.
type concHijackRecorder struct{ *httptest.ResponseRecorder }

func (concHijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }

// How Handler counts each request: as a latency sample, a drop, or nothing.
func TestConcurrencyHandlerOutcomes(t *testing.T) {
	const (
		sample  = "sample"
		drop    = "drop"
		nothing = "nothing"
	)
	tests := []struct {
		name   string
		status int // written by next; 0 writes nothing
		took   time.Duration
		ctx    func(context.Context) (context.Context, context.CancelFunc)
		hijack bool
		want   string
	}{
		{"200", 200, 5 * time.Millisecond, nil, false, sample},
		{"nothing written (200)", 0, 5 * time.Millisecond, nil, false, sample},
		{"404", 404, time.Millisecond, nil, false, sample},
		{"429 from further in", 429, time.Millisecond, nil, false, sample},
		{"500", 500, 5 * time.Millisecond, nil, false, drop},
		{"503 from further in", 503, time.Millisecond, nil, false, drop},
		{"deadline exceeded", 200, 5 * time.Millisecond, concExpired, false, drop},
		{"client gone at once", 0, time.Millisecond, concCanceled, false, nothing},
		{"client gone at the tolerance", 0, 2 * time.Millisecond, concCanceled, false, nothing},
		{"client gone after waiting", 0, 3 * time.Millisecond, concCanceled, false, drop},
		{"client gone and 500", 500, 0, concCanceled, false, drop},
		{"hijacked", 0, time.Hour, nil, true, nothing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, clk := newTestConcurrency(t, ConcurrencyConfig{})
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				clk.Advance(tt.took)
				if tt.hijack {
					if _, _, err := http.NewResponseController(w).Hijack(); err != nil {
						t.Errorf("hijack: %v", err)
					}
					return
				}
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.ctx != nil {
				ctx, cancel := tt.ctx(req.Context())
				defer cancel()
				req = req.WithContext(ctx)
			}
			var w http.ResponseWriter = httptest.NewRecorder()
			if tt.hijack {
				w = concHijackRecorder{httptest.NewRecorder()}
			}
			h.ServeHTTP(w, req)
			got := nothing
			switch {
			case c.okCount.Load() == 1 && c.drops.Load() == 0:
				got = sample
				if lat := time.Duration(c.latencySum.Load()); lat != tt.took {
					t.Errorf("latency %v, want %v", lat, tt.took)
				}
			case c.okCount.Load() == 0 && c.drops.Load() == 1:
				got = drop
			case c.okCount.Load() != 0 || c.drops.Load() != 0:
				got = "several"
			}
			if got != tt.want {
				t.Errorf("counted as %s, want %s", got, tt.want)
			}
			if n := c.InFlight(); n != 0 {
				t.Errorf("in flight %d, want 0", n)
			}
		})
	}
}

func concExpired(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, time.Unix(0, 0))
}

func concCanceled(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	return ctx, cancel
}

func TestConcurrencyHandlerPanicReleases(t *testing.T) {
	for _, v := range []any{"boom", http.ErrAbortHandler} {
		c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
		h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(v) }))
		func() {
			defer func() {
				if got := recover(); got != v {
					t.Errorf("recovered %v, want %v: the panic must go on up", got, v)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}()
		if got := c.InFlight(); got != 0 {
			t.Errorf("panic %v: in flight %d, want 0", v, got)
		}
		if got := c.drops.Load(); got != 1 {
			t.Errorf("panic %v: drops %d, want 1", v, got)
		}
		// The slot is free again.
		rec := httptest.NewRecorder()
		c.Handler(okHandler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Code != http.StatusNoContent {
			t.Errorf("after panic %v: status %d, want 204", v, rec.Code)
		}
	}
}

func TestConcurrencyHandlerGoexitReleases(t *testing.T) {
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 1, MinLimit: 1, MaxLimit: 1})
	h := c.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { runtime.Goexit() }))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	<-done
	if got := c.InFlight(); got != 0 {
		t.Errorf("in flight %d, want 0", got)
	}
}

// The operator hears when shedding starts and when it stops, once each, with nothing
// from the requests.
func TestConcurrencyLogs(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&concLockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 2, MinLimit: 2, MaxLimit: 2, Logger: logger})
	concWindow(t, c, 5, 10, 0, 10*time.Millisecond) // sheds 3
	concWindow(t, c, 5, 10, 0, 10*time.Millisecond) // sheds 3 more, no new warning
	concWindow(t, c, 1, 10, 0, 10*time.Millisecond) // none shed: stopped
	concWindow(t, c, 1, 10, 0, 10*time.Millisecond)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if got := strings.Count(out, "shedding requests"); got != 1 {
		t.Errorf("%d warnings that shedding started, want 1:\n%s", got, out)
	}
	if got := strings.Count(out, "shedding stopped"); got != 1 {
		t.Errorf("%d messages that shedding stopped, want 1:\n%s", got, out)
	}
}

type concLockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *concLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Many goroutines through Handler on the real clock, with windows closing all the time,
// panics, 5xx and cancellations: no slot leaks, in-flight never exceeds MaxLimit, the
// limit stays within its bounds.
func TestConcurrencyHandlerConcurrent(t *testing.T) {
	const maxLimit = 16
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 8, MinLimit: 2, MaxLimit: maxLimit, SampleWindow: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	var cur, peak, served, shed atomic.Int64
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		served.Add(1)
		switch r.URL.Path {
		case "/panic":
			panic(http.ErrAbortHandler)
		case "/500":
			w.WriteHeader(http.StatusInternalServerError)
		case "/slow":
			for range 1000 {
				_ = time.Now()
			}
		}
	}))
	// Drops (panics, 500s) are fewer than a tenth, so the limit moves both ways.
	paths := []string{"/panic", "/500", "/cancel"}
	for i := range 30 {
		paths = append(paths, []string{"/", "/slow"}[i%2])
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 300 {
				path := paths[(g+i)%len(paths)]
				req := httptest.NewRequest(http.MethodGet, path, nil)
				if path == "/cancel" {
					ctx, cancel := context.WithCancel(req.Context())
					cancel()
					req = req.WithContext(ctx)
				}
				rec := httptest.NewRecorder()
				func() {
					defer func() { _ = recover() }()
					h.ServeHTTP(rec, req)
				}()
				if rec.Code == http.StatusServiceUnavailable {
					shed.Add(1)
				}
				if l := c.Limit(); l < 2 || l > maxLimit {
					t.Errorf("limit %d outside [2, %d]", l, maxLimit)
				}
			}
		})
	}
	wg.Wait()
	if got := c.InFlight(); got != 0 {
		t.Errorf("in flight after all requests: %d, want 0", got)
	}
	if got := peak.Load(); got > maxLimit {
		t.Errorf("most in flight at once: %d, want at most %d", got, maxLimit)
	}
	if served.Load()+shed.Load() != 64*300 {
		t.Errorf("served %d + shed %d, want %d", served.Load(), shed.Load(), 64*300)
	}
	t.Logf("served %d, shed %d, most at once %d, limit at the end %d", served.Load(), shed.Load(), peak.Load(), c.Limit())
}

// Acquire and Release alone, many goroutines, windows closing all the time.
func TestConcurrencyAcquireReleaseConcurrent(t *testing.T) {
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 4, MinLimit: 1, MaxLimit: 8, SampleWindow: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 2000 {
				p, ok := c.Acquire()
				if !ok {
					continue
				}
				if n := c.InFlight(); n > 8 {
					t.Errorf("in flight %d above MaxLimit 8", n)
				}
				p.Release(Outcome((g + i) % 3))
			}
		})
	}
	wg.Wait()
	if got := c.InFlight(); got != 0 {
		t.Errorf("in flight %d, want 0", got)
	}
}

func TestConcurrencyAllocs(t *testing.T) {
	c, err := NewConcurrency(ConcurrencyConfig{SampleWindow: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		p, _ := c.Acquire()
		p.Release(OutcomeSuccess)
	}); n != 0 {
		t.Errorf("Acquire+Release: %v allocations, want 0", n)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{
		OutcomeSuccess: "OutcomeSuccess", OutcomeDropped: "OutcomeDropped", OutcomeIgnored: "OutcomeIgnored", 7: "Outcome(7)",
	} {
		if got := o.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// concDiscardWriter is a ResponseWriter that keeps nothing, so that the benchmarks measure
// only the middleware.
type concDiscardWriter struct{ h http.Header }

func (d concDiscardWriter) Header() http.Header       { return d.h }
func (concDiscardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (concDiscardWriter) WriteHeader(int)             {}

func benchConcurrencyHandler(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := concDiscardWriter{h: http.Header{}}
		for pb.Next() {
			h.ServeHTTP(w, req)
		}
	})
}

// Baseline: the bare handler.
func BenchmarkConcurrencyBareHandlerParallel(b *testing.B) {
	benchConcurrencyHandler(b, okHandler)
}

func BenchmarkConcurrencyHandlerParallel(b *testing.B) {
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 1 << 20, MinLimit: 1 << 20, MaxLimit: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	benchConcurrencyHandler(b, c.Handler(okHandler))
}

// Baseline: a buffered channel used as a semaphore, the usual fixed concurrency limit.
func BenchmarkConcurrencyChannelSemaphoreParallel(b *testing.B) {
	sem := make(chan struct{}, 1<<20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			sem <- struct{}{}
			<-sem
		}
	})
}

func BenchmarkConcurrencyAcquireReleaseParallel(b *testing.B) {
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 1 << 20, MinLimit: 1 << 20, MaxLimit: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := c.Acquire()
			p.Release(OutcomeSuccess)
		}
	})
}

func BenchmarkConcurrencyAcquireRelease(b *testing.B) {
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 1 << 20, MinLimit: 1 << 20, MaxLimit: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, _ := c.Acquire()
		p.Release(OutcomeSuccess)
	}
}

// Baseline: one read of the real clock. Acquire and Release each read it once, and on
// some virtual machines it costs more than the limiter itself.
func BenchmarkConcurrencyClockBaseline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = time.Now()
	}
}

// The limiter's own cost, without the clock.
func BenchmarkConcurrencyAcquireReleaseAtParallel(b *testing.B) {
	c, err := NewConcurrency(ConcurrencyConfig{InitialLimit: 1 << 20, MinLimit: 1 << 20, MaxLimit: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := c.AcquireAt(now)
			p.ReleaseAt(now, OutcomeSuccess)
		}
	})
}

// Any sequence of acquires, releases and clock steps keeps the limit within its bounds,
// never admits more than the limit, and counts exactly the permits held.
func FuzzConcurrencyBounds(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 1, 1})
	f.Add(bytes.Repeat([]byte{0, 0, 0, 0, 0x81, 0x81, 0x81, 0x81}, 40))
	f.Add(bytes.Repeat([]byte{0, 0, 0xf1, 0xf2, 0x41, 0x42}, 60))
	f.Fuzz(func(t *testing.T, ops []byte) {
		const minL, maxL = 2, 12
		c, clk := newTestConcurrency(t, ConcurrencyConfig{InitialLimit: 5, MinLimit: minL, MaxLimit: maxL, SampleWindow: 100 * time.Millisecond})
		var held []Permit
		for _, op := range ops {
			switch {
			case op == 0: // acquire
				p, ok := c.Acquire()
				if ok != (len(held) < c.Limit()) {
					t.Fatalf("acquire with %d held at limit %d: ok %v", len(held), c.Limit(), ok)
				}
				if ok {
					held = append(held, p)
				}
			case op&0x80 == 0 && len(held) > 0: // release the oldest, outcome in bits 0-1
				held[0].Release(Outcome(op & 3))
				held = held[1:]
			default: // advance the clock by (op & 0x7f) ms
				clk.Advance(time.Duration(op&0x7f) * time.Millisecond)
			}
			if l := c.Limit(); l < minL || l > maxL {
				t.Fatalf("limit %d outside [%d, %d]", l, minL, maxL)
			}
			if got := c.InFlight(); got != len(held) {
				t.Fatalf("in flight %d, want %d", got, len(held))
			}
		}
	})
}
