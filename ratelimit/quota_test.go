package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
)

// fakeQuotaStore delegates to a MemoryQuotaStore, failing while down is set.
type fakeQuotaStore struct {
	mu   sync.Mutex
	down bool
	mem  *MemoryQuotaStore
}

func (s *fakeQuotaStore) Spend(ctx context.Context, key string, cost, limit int64, expireAt time.Time) (int64, bool, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return 0, false, errDown
	}
	return s.mem.Spend(ctx, key, cost, limit, expireAt)
}

type quotaStep struct {
	name       string
	advance    time.Duration
	remote     string // default 203.0.113.9:1234
	wantStatus int
	wantRL     string // the RateLimit field
	wantPolicy string // the RateLimit-Policy field
	wantRetry  string
	wantReject string // the audit event's Rejection
}

func runQuotaSteps(t *testing.T, cfg Config, steps []quotaStep) {
	t.Helper()
	m, c := newTestMiddleware(t, cfg, LimiterConfig{Rate: 1000, Burst: 1000})
	var ev audit.Event
	aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error { ev = *e; return nil })})
	if err != nil {
		t.Fatal(err)
	}
	h := aud.Handler(m.Handler(okHandler))
	for _, st := range steps {
		c.Advance(st.advance)
		remote := st.remote
		if remote == "" {
			remote = "203.0.113.9:1234"
		}
		rec := serve(h, remote, nil)
		hd := rec.Header()
		if rec.Code != st.wantStatus || hd.Get("RateLimit") != st.wantRL || hd.Get("Retry-After") != st.wantRetry ||
			ev.Rejection != st.wantReject || (st.wantPolicy != "" && hd.Get("RateLimit-Policy") != st.wantPolicy) {
			t.Errorf("%s: got %d RateLimit %q Retry-After %q rejection %q policy %q; want %d %q %q %q %q", st.name,
				rec.Code, hd.Get("RateLimit"), hd.Get("Retry-After"), ev.Rejection, hd.Get("RateLimit-Policy"),
				st.wantStatus, st.wantRL, st.wantRetry, st.wantReject, st.wantPolicy)
		}
	}
}

func TestQuotaDaily(t *testing.T) {
	// The clock starts at 2026-11-26 12:00 UTC: 12 h to midnight.
	const half = 12 * 3600
	rl := func(r, tq int) string {
		return `"default";r=999;t=1, "daily";r=` + strconv.Itoa(r) + ";t=" + strconv.Itoa(tq)
	}
	runQuotaSteps(t, Config{Quotas: []Quota{{Name: "daily", Limit: 3, Period: Day}}}, []quotaStep{
		{name: "first", wantStatus: 204, wantRL: rl(2, half), wantPolicy: `"default";q=1000;w=1, "daily";q=3;w=86400`},
		{name: "second", advance: time.Second, wantStatus: 204, wantRL: rl(1, half-1)},
		{name: "third", advance: time.Second, wantStatus: 204, wantRL: rl(0, half-2)},
		{name: "fourth is refused until midnight", advance: time.Second, wantStatus: 429, wantRL: rl(0, half-3),
			wantRetry: strconv.Itoa(half - 3), wantReject: RejectionQuotaExceeded},
		{name: "another client is unaffected", remote: "198.51.100.7:1", wantStatus: 204, wantRL: rl(2, half-3)},
		{name: "still refused a second before midnight", advance: (half - 4) * time.Second, wantStatus: 429,
			wantRL: rl(0, 1), wantRetry: "1", wantReject: RejectionQuotaExceeded},
		{name: "a new day", advance: time.Second, wantStatus: 204, wantRL: rl(2, 2*half)},
	})
}

func TestQuotaMonthlyInLocation(t *testing.T) {
	// 12:00 UTC on 26 November is 07:00 at UTC-5; the month ends on 1 December 00:00
	// UTC-5, 4 days 17 hours later.
	loc := time.FixedZone("UTC-5", -5*3600)
	toEnd := (4*24 + 17) * 3600
	rl := func(rate, r, tq int) string {
		return `"default";r=` + strconv.Itoa(rate) + `;t=1, "monthly";r=` + strconv.Itoa(r) + ";t=" + strconv.Itoa(tq)
	}
	runQuotaSteps(t, Config{Location: loc, Quotas: []Quota{{Name: "monthly", Limit: 2, Period: Month}}}, []quotaStep{
		{name: "first", wantStatus: 204, wantRL: rl(999, 1, toEnd), wantPolicy: `"default";q=1000;w=1, "monthly";q=2;w=2592000`},
		{name: "second", wantStatus: 204, wantRL: rl(998, 0, toEnd)},
		{name: "third refused", wantStatus: 429, wantRL: rl(997, 0, toEnd), wantRetry: strconv.Itoa(toEnd), wantReject: RejectionQuotaExceeded},
		{name: "December (31 days)", advance: time.Duration(toEnd) * time.Second, wantStatus: 204, wantRL: rl(999, 1, 31*86400),
			wantPolicy: `"default";q=1000;w=1, "monthly";q=2;w=2678400`},
	})
}

func TestQuotaDailyAndMonthly(t *testing.T) {
	rl := func(rate, d, dt, mo, mt int) string {
		s := `"default";r=` + strconv.Itoa(rate) + `;t=1, "daily";r=` + strconv.Itoa(d) + ";t=" + strconv.Itoa(dt)
		if mo >= 0 {
			s += `, "monthly";r=` + strconv.Itoa(mo) + ";t=" + strconv.Itoa(mt)
		}
		return s
	}
	const toMidnight, toMonthEnd = 12 * 3600, (4*24 + 12) * 3600
	// Listed monthly first: the days are still spent first.
	runQuotaSteps(t, Config{Quotas: []Quota{{Name: "monthly", Limit: 3, Period: Month}, {Name: "daily", Limit: 2, Period: Day}}}, []quotaStep{
		{name: "1", wantStatus: 204, wantRL: rl(999, 1, toMidnight, 2, toMonthEnd),
			wantPolicy: `"default";q=1000;w=1, "daily";q=2;w=86400, "monthly";q=3;w=2592000`},
		{name: "2", wantStatus: 204, wantRL: rl(998, 0, toMidnight, 1, toMonthEnd)},
		{name: "the day's quota refuses; the month's is not spent", wantStatus: 429, wantRL: rl(997, 0, toMidnight, -1, 0),
			wantRetry: strconv.Itoa(toMidnight), wantReject: RejectionQuotaExceeded},
		{name: "next day", advance: toMidnight * time.Second, wantStatus: 204, wantRL: rl(999, 1, 2*toMidnight, 0, toMonthEnd-toMidnight)},
		{name: "the month's quota refuses", wantStatus: 429, wantRL: rl(998, 0, 2*toMidnight, 0, toMonthEnd-toMidnight),
			wantRetry: strconv.Itoa(toMonthEnd - toMidnight), wantReject: RejectionQuotaExceeded},
	})
}

func TestQuotaRateLimitFirst(t *testing.T) {
	m, _ := newTestMiddleware(t, Config{Quotas: []Quota{{Name: "daily", Limit: 10, Period: Day}}}, LimiterConfig{Rate: 0.001, Burst: 1})
	serve(m.Handler(okHandler), "203.0.113.9:1", nil)
	rec := serve(m.Handler(okHandler), "203.0.113.9:1", nil)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("RateLimit") != `"default";r=0;t=1000` {
		t.Fatalf("got %d RateLimit %q; want 429 with no quota item", rec.Code, rec.Header().Get("RateLimit"))
	}
	if got := rec.Header().Get("RateLimit-Policy"); got != `"default";q=1;w=1000, "daily";q=10;w=86400` {
		t.Errorf("RateLimit-Policy %q lists every policy", got)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.9:1"
	if d := m.Decide(r); d.Allowed || len(d.Quotas) != 0 || d.QuotaExceeded {
		t.Errorf("a request the rate limit refused spent a quota: %+v", d)
	}
}

func TestQuotaStoreErrors(t *testing.T) {
	tests := []struct {
		name       string
		mode       StoreErrorMode
		wantStatus []int
		wantNote   string
	}{
		{"fallback local counts in this process", FallbackLocal, []int{204, 204, 429}, "ratelimit.fallback"},
		{"fail closed", FailClosed, []int{503, 503, 503}, ""},
		{"insecure fail open", InsecureFailOpen, []int{204, 204, 204}, "ratelimit.fail-open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem, _ := NewMemoryQuotaStore(MemoryQuotaStoreConfig{})
			qs := &fakeQuotaStore{down: true, mem: mem}
			m, _ := newTestMiddleware(t, Config{Store: &fakeStore{}, QuotaStore: qs, OnStoreError: tt.mode,
				BreakerThreshold: 100, Quotas: []Quota{{Name: "daily", Limit: 2, Period: Day}}}, LimiterConfig{Rate: 1000, Burst: 1000})
			var ev audit.Event
			aud, err := audit.New(audit.Config{Sink: audit.SinkFunc(func(_ context.Context, e *audit.Event) error { ev = *e; return nil })})
			if err != nil {
				t.Fatal(err)
			}
			h := aud.Handler(m.Handler(okHandler))
			for i, want := range tt.wantStatus {
				ev = audit.Event{}
				if rec := serve(h, "203.0.113.9:1", nil); rec.Code != want {
					t.Errorf("request %d: status %d, want %d", i+1, rec.Code, want)
				}
				if (tt.wantNote == "") != (len(ev.Notes) == 0) || (tt.wantNote != "" && ev.Notes[0] != tt.wantNote) {
					t.Errorf("request %d: notes %q, want %q", i+1, ev.Notes, tt.wantNote)
				}
			}
			if mem.Len() != 0 {
				t.Errorf("the failing store counted %d keys", mem.Len())
			}
			qs.mu.Lock()
			qs.down = false
			qs.mu.Unlock()
			if rec := serve(h, "203.0.113.9:1", nil); rec.Code != 204 || len(ev.Notes) != 0 {
				t.Errorf("after recovery: status %d notes %q, want 204 and none", rec.Code, ev.Notes)
			}
		})
	}
}

func TestQuotaConfig(t *testing.T) {
	qs, _ := NewMemoryQuotaStore(MemoryQuotaStoreConfig{})
	day := Quota{Name: "daily", Limit: 1, Period: Day}
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"a daily quota in memory", Config{Quotas: []Quota{day}}, true},
		{"daily and monthly", Config{Quotas: []Quota{day, {Name: "monthly", Limit: 5, Period: Month}}}, true},
		{"a shared store and a quota store", Config{Store: &fakeStore{}, QuotaStore: qs, Quotas: []Quota{day}}, true},
		{"a shared store without a quota store", Config{Store: &fakeStore{}, Quotas: []Quota{day}}, false},
		{"no name", Config{Quotas: []Quota{{Limit: 1, Period: Day}}}, false},
		{"a name with a quote", Config{Quotas: []Quota{{Name: `a"b`, Limit: 1, Period: Day}}}, false},
		{"the rate policy's name", Config{Policy: "daily", Quotas: []Quota{day}}, false},
		{"a repeated name", Config{Quotas: []Quota{day, day}}, false},
		{"zero limit", Config{Quotas: []Quota{{Name: "q", Period: Day}}}, false},
		{"no period", Config{Quotas: []Quota{{Name: "q", Limit: 1}}}, false},
		{"unknown period", Config{Quotas: []Quota{{Name: "q", Limit: 1, Period: 3}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTestLimiter(t, LimiterConfig{Rate: 1, Burst: 1})
			tt.cfg.Limiter = l
			_, err := New(tt.cfg)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidConfig)) {
				t.Errorf("New: got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestMemoryQuotaStoreFull(t *testing.T) {
	c := newFakeClock()
	s, err := NewMemoryQuotaStore(MemoryQuotaStoreConfig{MaxKeys: 2, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	spend := func(key string, expire time.Duration) error {
		_, _, err := s.Spend(ctx, key, 1, 10, c.Now().Add(expire))
		return err
	}
	if err := errors.Join(spend("a", time.Hour), spend("b", 2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := spend("c", time.Hour); !errors.Is(err, ErrQuotaStoreFull) {
		t.Fatalf("a third key: got %v, want ErrQuotaStoreFull", err)
	}
	if err := spend("a", time.Hour); err != nil {
		t.Errorf("a kept key: got %v, want it counted", err)
	}
	if n, ok, err := s.Spend(ctx, "c", 0, 10, c.Now()); n != 0 || !ok || err != nil {
		t.Errorf("a zero-cost report on a full store: got %d %v %v, want 0 true nil", n, ok, err)
	}
	c.Advance(time.Hour)
	if err := spend("c", time.Hour); err != nil {
		t.Errorf("after a's window: got %v, want a's counter dropped for c", err)
	}
	if s.Len() != 2 {
		t.Errorf("Len = %d, want 2", s.Len())
	}
	if n, _, _ := s.Spend(ctx, "a", 0, 10, c.Now()); n != 0 {
		t.Errorf("a's expired count: got %d, want 0", n)
	}
}

func TestMemoryQuotaStoreSpend(t *testing.T) {
	c := newFakeClock()
	s, _ := NewMemoryQuotaStore(MemoryQuotaStoreConfig{Now: c.Now})
	ctx := context.Background()
	end := c.Now().Add(time.Hour)
	tests := []struct {
		name        string
		cost, limit int64
		wantN       int64
		wantOK      bool
		wantErr     bool
	}{
		{"spend 3 of 5", 3, 5, 3, true, false},
		{"3 more is over", 3, 5, 3, false, false},
		{"2 fits exactly", 2, 5, 5, true, false},
		{"report", 0, 5, 5, true, false},
		{"1 more is over", 1, 5, 5, false, false},
		{"a huge cost does not overflow", 1<<63 - 1, 5, 5, false, false},
		{"negative cost only reports", -1, 5, 5, true, false},
		{"zero limit", 1, 0, 0, false, true},
	}
	for _, tt := range tests {
		n, ok, err := s.Spend(ctx, "k", tt.cost, tt.limit, end)
		if n != tt.wantN || ok != tt.wantOK || (err != nil) != tt.wantErr {
			t.Errorf("%s: got %d %v %v, want %d %v err=%v", tt.name, n, ok, err, tt.wantN, tt.wantOK, tt.wantErr)
		}
	}
}

// TestQuotaFieldsOneClockRead: the RateLimit-Policy field speaks of the window the
// request was decided in, even when the clock passes the month's end in the meantime.
func TestQuotaFieldsOneClockRead(t *testing.T) {
	var mu sync.Mutex
	reads := 0
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		reads++
		if reads == 1 { // a millisecond before the end of November (30 days)
			return time.Date(2026, 11, 30, 23, 59, 59, 999e6, time.UTC)
		}
		return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // December has 31
	}
	lim, err := NewLimiter(LimiterConfig{Rate: 1000, Burst: 1000, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Limiter: lim, Now: now, Quotas: []Quota{{Name: "monthly", Limit: 5, Period: Month}}})
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(m.Handler(okHandler), "203.0.113.9:1234", nil)
	if got, want := rec.Header().Get("RateLimit-Policy"), `"default";q=1000;w=1, "monthly";q=5;w=2592000`; got != want {
		t.Errorf("got RateLimit-Policy %q, want %q (November's window)", got, want)
	}
	if got, want := rec.Header().Get("RateLimit"), `"default";r=999;t=1, "monthly";r=4;t=1`; got != want {
		t.Errorf("got RateLimit %q, want %q", got, want)
	}
}
