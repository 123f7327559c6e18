package idempotency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/idempotency"
)

// fakeClock is a clock that moves only when told; Sleep advances it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testKey = bytes.Repeat([]byte{7}, 32)

// principalOf is the test's key function: the X-Principal header, as authn would put a
// subject in the context.
func principalOf(r *http.Request) (string, bool) {
	p := r.Header.Get("X-Principal")
	return p, p != ""
}

type env struct {
	t     *testing.T
	clock *fakeClock
	store *idempotency.MemoryStore
	mw    *idempotency.Middleware
	runs  atomic.Int64
	logs  *bytes.Buffer
	h     http.Handler
}

// newEnv builds the middleware on a MemoryStore and a fake clock around handler, which
// is counted in env.runs. mod may change the config.
func newEnv(t *testing.T, handler http.HandlerFunc, mod func(*idempotency.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: newClock(), logs: &bytes.Buffer{}}
	var err error
	e.store, err = idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := idempotency.NewAESGCM(testKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := idempotency.Config{
		Store:  e.store,
		Sealer: sealer,
		Key:    principalOf,
		Now:    e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.clock.Advance(d)
			return ctx.Err()
		},
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: e.logs}, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	e.mw, err = idempotency.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = e.mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.runs.Add(1)
		handler(w, r)
	}))
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type req struct {
	method, target, principal, body, ct string
	ce                                  string   // Content-Encoding
	keys                                []string // Idempotency-Key lines
}

func post(principal, key, body string) req {
	return req{method: http.MethodPost, target: "/fhir/Observation", principal: principal, body: body, ct: "application/fhir+json", keys: []string{key}}
}

func (e *env) do(q req) *httptest.ResponseRecorder {
	return e.doCtx(context.Background(), q)
}

func (e *env) doCtx(ctx context.Context, q req) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(ctx, q.method, q.target, strings.NewReader(q.body))
	if q.principal != "" {
		r.Header.Set("X-Principal", q.principal)
	}
	if q.ct != "" {
		r.Header.Set("Content-Type", q.ct)
	}
	if q.ce != "" {
		r.Header.Set("Content-Encoding", q.ce)
	}
	for _, k := range q.keys {
		r.Header.Add("Idempotency-Key", k)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// problemType returns the type member of a problem+json body, or "".
func problemType(w *httptest.ResponseRecorder) string {
	var p struct{ Type string }
	_ = json.Unmarshal(w.Body.Bytes(), &p)
	return p.Type
}

// created is a handler that creates an Observation: 201, Location, a cookie and a header
// that is not on the allow-list.
func created(w http.ResponseWriter, r *http.Request) {
	body := new(bytes.Buffer)
	_, _ = body.ReadFrom(r.Body)
	w.Header().Set("Content-Type", "application/fhir+json")
	w.Header().Set("Location", "/fhir/Observation/obs-1/_history/1")
	w.Header().Set("ETag", `W/"1"`)
	w.Header().Set("Set-Cookie", "session=secret")
	w.Header().Set("X-Internal", "node-7")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte(`{"resourceType":"Observation","id":"obs-1","echo":` + body.String() + `}`))
}

// auditEvents runs h under the audit middleware and returns the events it emitted.
type eventSink struct {
	mu     sync.Mutex
	events []audit.Event
}

func (s *eventSink) Write(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, *e)
	return nil
}

func (s *eventSink) last() audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return audit.Event{}
	}
	return s.events[len(s.events)-1]
}

// failingStore fails the calls named in fail.
type failingStore struct {
	idempotency.Store
	claim, complete, release error
	completes                atomic.Int64
}

func (f *failingStore) Claim(ctx context.Context, key, token string, fp []byte, now time.Time, lease time.Duration) (idempotency.Claim, error) {
	if f.claim != nil {
		return idempotency.Claim{}, f.claim
	}
	return f.Store.Claim(ctx, key, token, fp, now, lease)
}

func (f *failingStore) Complete(ctx context.Context, key, token string, resp []byte, now time.Time, ttl time.Duration) error {
	f.completes.Add(1)
	if f.complete != nil {
		return f.complete
	}
	return f.Store.Complete(ctx, key, token, resp, now, ttl)
}

func (f *failingStore) Release(ctx context.Context, key, token string, now time.Time) error {
	if f.release != nil {
		return f.release
	}
	return f.Store.Release(ctx, key, token, now)
}

var errBackend = errors.New("backend says: patient pat-123 key k-secret")
