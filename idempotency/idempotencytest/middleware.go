package idempotencytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phikit/phikit/idempotency"
)

// middlewareLease is the lease the middleware under test is configured with.
const middlewareLease = 30 * time.Second

// runMiddlewareTests runs the middleware on the stores newStore returns (one per
// subtest), end to end: what a client sees when its requests are retried, raced,
// interrupted and expired.
func runMiddlewareTests(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Run("50 concurrent duplicates: the handler runs once", func(t *testing.T) {
		release := make(chan struct{})
		inner := createObservation()
		e := newMiddleware(t, newStore(t), principal(t), func(w http.ResponseWriter, r *http.Request) {
			<-release // every duplicate arrives while the first runs
			inner(w, r)
		})
		const n = 50
		var wg sync.WaitGroup
		codes := make([]int, n)
		bodies := make([]string, n)
		var answered atomic.Int64
		for i := range n {
			wg.Go(func() {
				w := e.post(`"order-aspirin-1"`, `{"resourceType":"MedicationRequest"}`)
				codes[i], bodies[i] = w.Code, w.Body.String()
				answered.Add(1)
			})
		}
		for answered.Load() < n-1 { // the 49 duplicates are refused while the first runs
			time.Sleep(time.Millisecond) // waiting for the goroutines, not timing logic
		}
		close(release)
		wg.Wait()
		if got := e.runs.Load(); got != 1 {
			t.Fatalf("handler runs: got %d, want 1", got)
		}
		created, conflicts := 0, 0
		for i := range n {
			switch codes[i] {
			case http.StatusCreated:
				created++
			case http.StatusConflict:
				conflicts++
			default:
				t.Errorf("response %d: got %d %s, want 201 or 409", i, codes[i], bodies[i])
			}
		}
		if created != 1 || conflicts != n-1 {
			t.Errorf("got %d created, %d conflicts; want 1, %d", created, conflicts, n-1)
		}
		// A retry now replays the one result.
		w := e.post(`"order-aspirin-1"`, `{"resourceType":"MedicationRequest"}`)
		if w.Code != http.StatusCreated || w.Body.String() != `{"resourceType":"Observation","id":"obs-1"}` || w.Header().Get("Idempotent-Replayed") == "" {
			t.Errorf("retry: got %d %s (replayed %q), want the stored 201", w.Code, w.Body, w.Header().Get("Idempotent-Replayed"))
		}
	})

	t.Run("the same key with another body: 422", func(t *testing.T) {
		e := newMiddleware(t, newStore(t), principal(t), createObservation())
		if w := e.post(`"k-422"`, `{"dose":1}`); w.Code != http.StatusCreated {
			t.Fatalf("first: got %d, want 201", w.Code)
		}
		if w := e.post(`"k-422"`, `{"dose":10}`); w.Code != http.StatusUnprocessableEntity {
			t.Errorf("another body: got %d, want 422", w.Code)
		}
		if got := e.runs.Load(); got != 1 {
			t.Errorf("handler runs: got %d, want 1", got)
		}
	})

	t.Run("a crash mid-handler: the retry runs once the lease has run out", func(t *testing.T) {
		e := newMiddleware(t, newStore(t), principal(t), createObservation())
		e.store.drop.Store(true) // the process dies before it can Complete or Release
		e.post(`"k-crash"`, `{}`)
		e.store.drop.Store(false)
		e.clock.Advance(middlewareLease - time.Millisecond)
		if w := e.post(`"k-crash"`, `{}`); w.Code != http.StatusConflict {
			t.Errorf("retry within the lease: got %d, want 409", w.Code)
		}
		e.clock.Advance(time.Millisecond)
		if w := e.post(`"k-crash"`, `{}`); w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("retry after the lease: got %d (replayed %q), want 201 from a new run", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
		if got := e.runs.Load(); got != 2 {
			t.Errorf("handler runs: got %d, want 2", got)
		}
	})

	for _, tc := range []struct {
		name    string
		handler func(cancel context.CancelFunc) http.HandlerFunc
	}{
		{"a 5xx is released: the retry runs at once", func(context.CancelFunc) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }
		}},
		{"a request cancelled mid-handler is released: the retry runs at once", func(cancel context.CancelFunc) http.HandlerFunc {
			return func(http.ResponseWriter, *http.Request) { cancel() }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			failed := tc.handler(cancel)
			first := true
			e := newMiddleware(t, newStore(t), principal(t), func(w http.ResponseWriter, r *http.Request) {
				if first {
					first = false
					failed(w, r)
					return
				}
				createObservation()(w, r)
			})
			r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/fhir/Observation", strings.NewReader(`{}`))
			r.Header.Set("X-Principal", e.principal)
			r.Header.Set("Idempotency-Key", `"k-failed"`)
			e.h.ServeHTTP(httptest.NewRecorder(), r)
			if w := e.post(`"k-failed"`, `{}`); w.Code != http.StatusCreated {
				t.Errorf("retry: got %d, want 201", w.Code)
			}
		})
	}

	t.Run("expiry on the fake clock", func(t *testing.T) {
		e := newMiddleware(t, newStore(t), principal(t), createObservation())
		e.post(`"k-ttl"`, `{}`)
		e.clock.Advance(idempotency.DefaultTTL - time.Millisecond)
		if w := e.post(`"k-ttl"`, `{}`); w.Header().Get("Idempotent-Replayed") == "" {
			t.Errorf("just before the TTL: got %d, not a replay; want the replay", w.Code)
		}
		e.clock.Advance(time.Millisecond)
		if w := e.post(`"k-ttl"`, `{}`); w.Code != http.StatusCreated || w.Header().Get("Idempotent-Replayed") != "" {
			t.Errorf("at the TTL: got %d (replayed %q), want a new run", w.Code, w.Header().Get("Idempotent-Replayed"))
		}
		if got := e.runs.Load(); got != 2 {
			t.Errorf("handler runs: got %d, want 2", got)
		}
	})
}

// RunMiddlewareBenchmarks measures the middleware's cost per request on store, beside
// the bare handler: a first request (Claim, seal, Complete) and a replay (Claim, open).
// roundTrips, when not nil, counts the store's round trips (commands sent, writes on
// the connections), reported as round-trips/op; nil reports none. Keys are scoped to a
// principal of the call's own, so store may share a backend.
func RunMiddlewareBenchmarks(b *testing.B, store idempotency.Store, roundTrips func() int64) {
	b.Helper()
	e := newMiddleware(b, store, "Practitioner/"+rand.Text(), createObservation())
	bare := createObservation()
	body := `{"resourceType":"MedicationRequest","status":"active","intent":"order","subject":{"reference":"Patient/pat-1"}}`
	run := func(b *testing.B, do func(i int) *httptest.ResponseRecorder, want int) {
		b.ReportAllocs()
		do(-1) // prepares statements, loads scripts
		var start int64
		if roundTrips != nil {
			start = roundTrips()
		}
		i := 0
		for b.Loop() {
			if w := do(i); w.Code != want {
				b.Fatalf("got %d, want %d", w.Code, want)
			}
			i++
		}
		if roundTrips != nil {
			b.ReportMetric(float64(roundTrips()-start)/float64(i), "round-trips/op")
		}
	}
	var n atomic.Int64
	b.Run("bare-handler", func(b *testing.B) {
		run(b, func(int) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/fhir/Observation", strings.NewReader(body))
			w := httptest.NewRecorder()
			bare(w, r)
			return w
		}, http.StatusCreated)
	})
	b.Run("first-request", func(b *testing.B) {
		run(b, func(int) *httptest.ResponseRecorder {
			return e.post(fmt.Sprintf(`"bench-%d"`, n.Add(1)), body)
		}, http.StatusCreated)
	})
	b.Run("replay", func(b *testing.B) {
		run(b, func(int) *httptest.ResponseRecorder { return e.post(`"bench-1"`, body) }, http.StatusCreated)
	})
}

// principal returns a principal of the subtest's own: the middleware scopes keys to
// it, so stores of the suite may share a backend.
func principal(t *testing.T) string { return "Practitioner/" + key(t, "principal") }

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type mwEnv struct {
	clock     *fakeClock
	principal string
	runs      atomic.Int64
	h         http.Handler
	store     *dropping
}

// dropping is a store whose Complete and Release can be dropped, as if the process
// had crashed between Claim and the end of the handler.
type dropping struct {
	idempotency.Store
	drop atomic.Bool
}

func (d *dropping) Complete(ctx context.Context, key, token string, response []byte, now time.Time, ttl time.Duration) error {
	if d.drop.Load() {
		return nil
	}
	return d.Store.Complete(ctx, key, token, response, now, ttl)
}

func (d *dropping) Release(ctx context.Context, key, token string, now time.Time) error {
	if d.drop.Load() {
		return nil
	}
	return d.Store.Release(ctx, key, token, now)
}

// newMiddleware returns the middleware on store, its clock at base(), counting the
// runs of handler; requests are made by principal.
func newMiddleware(tb testing.TB, store idempotency.Store, principal string, handler http.HandlerFunc) *mwEnv {
	tb.Helper()
	e := &mwEnv{clock: &fakeClock{t: base()}, principal: principal, store: &dropping{Store: store}}
	sealer, err := idempotency.NewAESGCM(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	mw, err := idempotency.New(idempotency.Config{
		Store:  e.store,
		Sealer: sealer,
		Key:    func(r *http.Request) (string, bool) { p := r.Header.Get("X-Principal"); return p, p != "" },
		Lease:  middlewareLease,
		Now:    e.clock.Now,
	})
	if err != nil {
		tb.Fatal(err)
	}
	e.h = mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.runs.Add(1)
		handler(w, r)
	}))
	return e
}

func (e *mwEnv) post(key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/fhir/Observation", strings.NewReader(body))
	r.Header.Set("X-Principal", e.principal)
	r.Header.Set("Content-Type", "application/fhir+json")
	r.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// createObservation answers 201 with a new id per run.
func createObservation() http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"resourceType":"Observation","id":"obs-%d"}`, n.Add(1))
	}
}
