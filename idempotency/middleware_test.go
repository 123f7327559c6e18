package idempotency_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/problem"
)

const key1 = `"8e03978e-40d5-43e8-bc93-6894a57f9324"`

func TestFirstRequestThenReplay(t *testing.T) {
	e := newEnv(t, created, nil)
	first := e.do(post("alice", key1, `{"status":"final"}`))
	if first.Code != http.StatusCreated || first.Header().Get("Set-Cookie") == "" || first.Header().Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: got %d, Set-Cookie %q, Idempotent-Replayed %q; want 201, the handler's cookie, none",
			first.Code, first.Header().Get("Set-Cookie"), first.Header().Get("Idempotent-Replayed"))
	}
	// The same key, unquoted, and the same JSON formatted differently: a retry.
	again := e.do(post("alice", "8e03978e-40d5-43e8-bc93-6894a57f9324", "{ \"status\" : \"final\" }\n"))
	if got := e.runs.Load(); got != 1 {
		t.Errorf("handler runs: got %d, want 1", got)
	}
	if again.Code != first.Code || again.Body.String() != first.Body.String() {
		t.Errorf("replay: got %d %q, want %d %q", again.Code, again.Body, first.Code, first.Body)
	}
	tests := []struct{ header, want string }{
		{"Idempotent-Replayed", "true"},
		{"Content-Type", "application/fhir+json"},
		{"Location", "/fhir/Observation/obs-1/_history/1"},
		{"Etag", `W/"1"`},
		{"Set-Cookie", ""}, // never replayed
		{"X-Internal", ""}, // not on the allow-list
	}
	for _, tt := range tests {
		if got := again.Header().Get(tt.header); got != tt.want {
			t.Errorf("replayed %s: got %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*idempotency.Config)
		q        req
		want     int
		wantType problem.Type
		wantRuns int64
	}{
		{"key present: runs", nil, post("alice", key1, `{}`), 201, "", 1},
		{"no key: 400 by default", nil, req{method: "POST", target: "/x", principal: "alice"}, 400, problem.IdempotencyKeyMissing, 0},
		{"no key, InsecureOptionalKey: runs unprotected", func(c *idempotency.Config) { c.InsecureOptionalKey = true }, req{method: "POST", target: "/x", principal: "alice"}, 201, "", 1},
		{"two header lines: 400", nil, req{method: "POST", target: "/x", principal: "alice", keys: []string{`"a"`, `"b"`}}, 400, problem.IdempotencyKeyInvalid, 0},
		{"malformed key: 400", nil, post("alice", `"unterminated`, `{}`), 400, problem.IdempotencyKeyInvalid, 0},
		{"key too long: 400", nil, post("alice", strings.Repeat("k", 256), `{}`), 400, problem.IdempotencyKeyInvalid, 0},
		{"key of 255: runs", nil, post("alice", strings.Repeat("k", 255), `{}`), 201, "", 1},
		{"no principal: 401", nil, post("", key1, `{}`), 401, problem.Unauthenticated, 0},
		{"empty principal: 401", func(c *idempotency.Config) {
			c.Key = func(*http.Request) (string, bool) { return "", true }
		}, post("alice", key1, `{}`), 401, problem.Unauthenticated, 0},
		{"no principal, no key: 401", nil, req{method: "POST", target: "/x"}, 401, problem.Unauthenticated, 0},
		{"GET with a key: passes through", nil, req{method: "GET", target: "/x", keys: []string{key1}}, 201, "", 1},
		{"PUT by default: passes through", nil, req{method: "PUT", target: "/x", principal: "alice"}, 201, "", 1},
		{"PUT when listed: 400 without key", func(c *idempotency.Config) { c.Methods = []string{"PUT"} }, req{method: "PUT", target: "/x", principal: "alice"}, 400, problem.IdempotencyKeyMissing, 0},
		{"body at MaxBodyBytes: runs", func(c *idempotency.Config) { c.MaxBodyBytes = 4 }, post("alice", key1, `1234`), 201, "", 1},
		{"body over MaxBodyBytes: 413", func(c *idempotency.Config) { c.MaxBodyBytes = 4 }, post("alice", key1, `12345`), 413, problem.PayloadTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, created, tt.mod)
			w := e.do(tt.q)
			if w.Code != tt.want || problemType(w) != string(tt.wantType) || e.runs.Load() != tt.wantRuns {
				t.Errorf("got %d %q, %d runs; want %d %q, %d runs", w.Code, problemType(w), e.runs.Load(), tt.want, tt.wantType, tt.wantRuns)
			}
			if strings.Contains(w.Body.String(), "8e03978e") {
				t.Errorf("body echoes the key: %s", w.Body)
			}
		})
	}
}

func TestSameKeyOtherRequest(t *testing.T) {
	tests := []struct {
		name     string
		second   req
		want     int
		wantRuns int64
	}{
		{"same body: replay", post("alice", key1, `{"a":1,"b":[1,2]}`), 201, 1},
		{"members reordered, spaces: replay", post("alice", key1, ` {"b": [1, 2], "a": 1} `), 201, 1},
		{"other body: 422", post("alice", key1, `{"a":2,"b":[1,2]}`), 422, 1},
		{"number spelled otherwise: 422", post("alice", key1, `{"a":1.0,"b":[1,2]}`), 422, 1},
		{"array reordered: 422", post("alice", key1, `{"a":1,"b":[2,1]}`), 422, 1},
		{"other query: 422", req{method: "POST", target: "/fhir/Observation?x=1", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "application/json", keys: []string{key1}}, 422, 1},
		{"other method, same route: runs (scoped by method)", req{method: "PATCH", target: "/fhir/Observation", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "application/json", keys: []string{key1}}, 201, 2},
		{"other path: runs (scoped by route)", req{method: "POST", target: "/fhir/Condition", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "application/json", keys: []string{key1}}, 201, 2},
		{"other principal, same key and body: runs, not replayed", post("bob", key1, `{"a":1,"b":[1,2]}`), 201, 2},
		{"same bytes as another media type: 422", req{method: "POST", target: "/fhir/Observation", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "application/merge-patch+json", keys: []string{key1}}, 422, 1},
		{"same bytes, Content-Type spelled in capitals: replay", req{method: "POST", target: "/fhir/Observation", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "Application/FHIR+JSON", keys: []string{key1}}, 201, 1},
		{"same bytes, Content-Encoding added: 422", req{method: "POST", target: "/fhir/Observation", principal: "alice", body: `{"a":1,"b":[1,2]}`, ct: "application/fhir+json", ce: "gzip", keys: []string{key1}}, 422, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, created, nil)
			e.do(post("alice", key1, `{"a":1,"b":[1,2]}`))
			w := e.do(tt.second)
			if w.Code != tt.want || e.runs.Load() != tt.wantRuns {
				t.Errorf("got %d, %d runs; want %d, %d runs", w.Code, e.runs.Load(), tt.want, tt.wantRuns)
			}
			if tt.want == 422 && problemType(w) != string(problem.IdempotencyKeyReused) {
				t.Errorf("type: got %q, want %q", problemType(w), problem.IdempotencyKeyReused)
			}
			if replayed := w.Header().Get("Idempotent-Replayed") == "true"; replayed != (tt.want == 201 && tt.wantRuns == 1) {
				t.Errorf("Idempotent-Replayed: got %v", replayed)
			}
		})
	}
}

// A body's meaning depends on its media type and content coding, not on its bytes alone:
// a JSON Patch and a merge patch can be the same bytes.
func TestFingerprintCoversRepresentation(t *testing.T) {
	const patch = `[{"op":"remove","path":"/note"}]`
	patchReq := func(ct, ce string) req {
		return req{method: "PATCH", target: "/fhir/Patient/p1", principal: "alice", body: patch, ct: ct, ce: ce, keys: []string{key1}}
	}
	tests := []struct {
		name     string
		second   req
		want     int
		wantRuns int64
	}{
		{"same type: replay", patchReq("application/json-patch+json", ""), 201, 1},
		{"same type, other case and spacing: replay", patchReq("Application/JSON-Patch+JSON", ""), 201, 1},
		{"other media type, same bytes: 422", patchReq("application/merge-patch+json", ""), 422, 1},
		{"no media type, same bytes: 422", patchReq("", ""), 422, 1},
		{"other charset: 422", patchReq("application/json-patch+json; charset=iso-8859-1", ""), 422, 1},
		{"content coding added, same bytes: 422", patchReq("application/json-patch+json", "gzip"), 422, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, created, nil)
			e.do(patchReq("application/json-patch+json", ""))
			w := e.do(tt.second)
			if w.Code != tt.want || e.runs.Load() != tt.wantRuns {
				t.Errorf("got %d, %d runs; want %d, %d runs", w.Code, e.runs.Load(), tt.want, tt.wantRuns)
			}
		})
	}
}

func TestConcurrentDuplicates(t *testing.T) {
	const n = 50
	release := make(chan struct{})
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		<-release // hold the lease until every duplicate has been answered
		created(w, r)
	}, nil)
	var wg sync.WaitGroup
	codes := make(chan int, n)
	bodies := make(chan string, n)
	var firstDone sync.WaitGroup
	firstDone.Add(n - 1)
	for range n {
		wg.Go(func() {
			w := e.do(post("alice", key1, `{"a":1}`))
			codes <- w.Code
			bodies <- w.Body.String()
			if w.Code == http.StatusConflict {
				firstDone.Done()
			}
		})
	}
	firstDone.Wait() // the other 49 got 409 while the first was running
	close(release)
	wg.Wait()
	close(codes)
	close(bodies)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if e.runs.Load() != 1 || count[201] != 1 || count[409] != n-1 {
		t.Errorf("got %d runs, statuses %v; want 1 run, one 201 and %d 409", e.runs.Load(), count, n-1)
	}
	// Now every retry is the same result.
	w := e.do(post("alice", key1, `{"a":1}`))
	if w.Code != 201 || e.runs.Load() != 1 {
		t.Errorf("retry after: got %d, %d runs; want 201, 1 run", w.Code, e.runs.Load())
	}
}

func TestConcurrentDuplicatesUnsynchronised(t *testing.T) {
	// No coordination: each of the 50 answers is the first's 201 (run or replayed) or 409.
	e := newEnv(t, created, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	results := map[string]int{}
	for range 50 {
		wg.Go(func() {
			w := e.do(post("alice", key1, `{"a":1}`))
			mu.Lock()
			defer mu.Unlock()
			if w.Code == 409 {
				results["409"]++
			} else {
				results[w.Body.String()]++
			}
		})
	}
	wg.Wait()
	if e.runs.Load() != 1 || len(results) > 2 || results["409"]+results[`{"resourceType":"Observation","id":"obs-1","echo":{"a":1}}`] != 50 {
		t.Errorf("got %d runs, results %v; want 1 run, only the 201 body or 409", e.runs.Load(), results)
	}
}

func TestInProgressAndWait(t *testing.T) {
	tests := []struct {
		name        string
		wait        time.Duration
		finishAfter time.Duration // the first request completes once the clock has moved this far; 0: never
		want        int
		wantReplay  bool
	}{
		{"no wait: 409 at once", 0, 0, 409, false},
		{"wait, first finishes in time: replay", 2 * time.Second, time.Second, 201, true},
		{"wait, first never finishes: 409 after the wait", 2 * time.Second, 0, 409, false},
		{"wait shorter than the first: 409", 500 * time.Millisecond, time.Second, 409, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *env
			var start time.Time
			var finish func()
			finished := false
			e = newEnv(t, created, func(c *idempotency.Config) {
				c.Wait = tt.wait
				sleep := c.Sleep
				c.Sleep = func(ctx context.Context, d time.Duration) error {
					if d > 250*time.Millisecond || d <= 0 {
						t.Errorf("poll delay %v out of bounds", d)
					}
					err := sleep(ctx, d)
					if tt.finishAfter > 0 && !finished && e.clock.Now().Sub(start) >= tt.finishAfter {
						finished = true
						finish() // the first request completes
					}
					return err
				}
			})
			start = e.clock.Now()
			// The first request is running: its claim is held in the store.
			finish = holdClaim(t, e)
			w := e.do(post("alice", key1, `{"a":1}`))
			if w.Code != tt.want {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
			if tt.want == 409 {
				if problemType(w) != string(problem.IdempotencyInProgress) || w.Header().Get("Retry-After") != "1" {
					t.Errorf("409: got type %q Retry-After %q, want %q and 1", problemType(w), w.Header().Get("Retry-After"), problem.IdempotencyInProgress)
				}
				if waited := e.clock.Now().Sub(start); waited < tt.wait || waited > tt.wait+250*time.Millisecond {
					t.Errorf("waited %v, want %v (plus at most one poll)", waited, tt.wait)
				}
			}
			if got := w.Header().Get("Idempotent-Replayed") == "true"; got != tt.wantReplay {
				t.Errorf("replayed: got %v, want %v", got, tt.wantReplay)
			}
			if e.runs.Load() != 0 {
				t.Errorf("handler runs: got %d, want 0", e.runs.Load())
			}
		})
	}
}

// holdClaim makes "the first request" hold key1 for alice's POST {"a":1}: it runs one
// through a second middleware over the same store whose handler parks until finish is
// called (or the test ends).
func holdClaim(t *testing.T, e *env) (finish func()) {
	t.Helper()
	parked, proceed, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	sealer, _ := idempotency.NewAESGCM(testKey)
	mw, err := idempotency.New(idempotency.Config{Store: e.store, Sealer: sealer, Key: principalOf, Now: e.clock.Now, Lease: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(parked)
		<-proceed
		created(w, r)
	}))
	go func() {
		defer close(done)
		(&env{h: h}).do(post("alice", key1, `{"a":1}`))
	}()
	<-parked
	var once sync.Once
	finish = func() {
		once.Do(func() {
			close(proceed)
			<-done
		})
	}
	t.Cleanup(finish)
	return finish
}

func TestFailuresLetTheClientRetry(t *testing.T) {
	type handler func(w http.ResponseWriter, r *http.Request, cancel func())
	tests := []struct {
		name    string
		first   handler
		panics  bool
		wantRun int64 // handler runs after the retry
		wantRe  int   // the retry's status
	}{
		{"500 is not stored", func(w http.ResponseWriter, r *http.Request, _ func()) { w.WriteHeader(500) }, false, 2, 201},
		{"503 is not stored", func(w http.ResponseWriter, r *http.Request, _ func()) { w.WriteHeader(503) }, false, 2, 201},
		{"429 is not stored", func(w http.ResponseWriter, r *http.Request, _ func()) { w.WriteHeader(429) }, false, 2, 201},
		{"400 is stored and replayed", func(w http.ResponseWriter, r *http.Request, _ func()) { w.WriteHeader(400) }, false, 1, 400},
		{"409 from the handler is stored", func(w http.ResponseWriter, r *http.Request, _ func()) { w.WriteHeader(409) }, false, 1, 409},
		{"nothing written is a stored 200", func(w http.ResponseWriter, r *http.Request, _ func()) {}, false, 1, 200},
		{"panic releases and re-panics", func(w http.ResponseWriter, r *http.Request, _ func()) { panic("boom") }, true, 2, 201},
		{"cancelled mid-way before answering releases", func(w http.ResponseWriter, r *http.Request, cancel func()) {
			cancel() // the client goes away while the handler works
			<-r.Context().Done()
		}, false, 2, 201},
		{"cancelled after answering is stored", func(w http.ResponseWriter, r *http.Request, cancel func()) {
			w.WriteHeader(202)
			cancel()
			<-r.Context().Done()
		}, false, 1, 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls == 1 {
					tt.first(w, r, cancel)
					return
				}
				created(w, r)
			}, nil)
			func() {
				defer func() {
					if p := recover(); (p != nil) != tt.panics {
						t.Errorf("panic: got %v, want panicked %v", p, tt.panics)
					}
				}()
				e.doCtx(ctx, post("alice", key1, `{"a":1}`))
			}()
			w := e.do(post("alice", key1, `{"a":1}`))
			if e.runs.Load() != tt.wantRun || w.Code != tt.wantRe {
				t.Errorf("retry: got %d, %d runs; want %d, %d runs", w.Code, e.runs.Load(), tt.wantRe, tt.wantRun)
			}
		})
	}
}

func TestCancelledClientBeforeClaim(t *testing.T) {
	e := newEnv(t, created, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if w := e.doCtx(ctx, post("alice", key1, `{}`)); w.Code != 503 || e.runs.Load() != 0 {
		t.Errorf("got %d, %d runs; want 503 (the store call is cancelled), 0 runs", w.Code, e.runs.Load())
	}
}

func TestCrashedHolderLeaseExpires(t *testing.T) {
	e := newEnv(t, created, func(c *idempotency.Config) { c.Lease = 30 * time.Second })
	// A replica claimed the key and crashed: its claim sits in the store with its lease.
	holdClaimAndCrash(t, e, 30*time.Second)
	steps := []struct {
		advance  time.Duration
		want     int
		wantRuns int64
	}{
		{0, 409, 0},
		{29 * time.Second, 409, 0},
		{time.Second, 201, 1}, // the lease has run out: the retry runs
		{time.Hour, 201, 1},   // and is then replayed
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		w := e.do(post("alice", key1, `{"a":1}`))
		if w.Code != s.want || e.runs.Load() != s.wantRuns {
			t.Errorf("step %d (+%v): got %d, %d runs; want %d, %d runs", i, s.advance, w.Code, e.runs.Load(), s.want, s.wantRuns)
		}
	}
}

// holdClaimAndCrash runs alice's POST through a middleware whose handler never returns
// normally (runtime.Goexit would release; a crash does not), by claiming through a store
// that forgets Release.
func holdClaimAndCrash(t *testing.T, e *env, lease time.Duration) {
	t.Helper()
	sealer, _ := idempotency.NewAESGCM(testKey)
	crashing := &failingStore{Store: e.store, release: errors.New("process died")}
	mw, err := idempotency.New(idempotency.Config{Store: crashing, Sealer: sealer, Key: principalOf, Now: e.clock.Now, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() { _ = recover() }()
		(&env{h: h}).do(post("alice", key1, `{"a":1}`))
	}()
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, created, func(c *idempotency.Config) { c.TTL = time.Hour })
	steps := []struct {
		advance  time.Duration
		wantRuns int64
		replayed bool
	}{
		{0, 1, false},
		{59 * time.Minute, 1, true},
		{time.Minute, 2, false}, // expired at TTL: runs again
		{time.Minute, 2, true},
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		w := e.do(post("alice", key1, `{"a":1}`))
		if e.runs.Load() != s.wantRuns || (w.Header().Get("Idempotent-Replayed") == "true") != s.replayed {
			t.Errorf("step %d: got %d runs, replayed %q; want %d, %v", i, e.runs.Load(), w.Header().Get("Idempotent-Replayed"), s.wantRuns, s.replayed)
		}
	}
}

func TestOversizedResponseNotReplayable(t *testing.T) {
	big := strings.Repeat("x", 100)
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(201)
		_, _ = io.WriteString(w, big[:50])
		_, _ = io.WriteString(w, big[50:])
	}, func(c *idempotency.Config) { c.MaxResponseBytes = 99 })
	first := e.do(post("alice", key1, `{}`))
	if first.Code != 201 || first.Body.String() != big {
		t.Fatalf("first: got %d with %d bytes, want 201 with 100 (answered in full)", first.Code, first.Body.Len())
	}
	again := e.do(post("alice", key1, `{}`))
	if again.Code != 409 || problemType(again) != string(problem.IdempotencyNotReplayable) || e.runs.Load() != 1 {
		t.Errorf("retry: got %d %q, %d runs; want 409 %q, 1 run", again.Code, problemType(again), e.runs.Load(), problem.IdempotencyNotReplayable)
	}
	other := e.do(post("alice", key1, `{"other":1}`))
	if other.Code != 422 {
		t.Errorf("other body: got %d, want 422", other.Code)
	}
}

func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name     string
		store    func(s idempotency.Store) idempotency.Store
		want     int
		wantRuns int64
		wantLog  string
	}{
		{"claim fails: 503, handler not run", func(s idempotency.Store) idempotency.Store { return &failingStore{Store: s, claim: errBackend} }, 503, 0, "failed to claim"},
		{"claim panics: 503", func(s idempotency.Store) idempotency.Store { return panickingStore{s} }, 503, 0, "failed to claim"},
		{"complete fails: response still sent", func(s idempotency.Store) idempotency.Store { return &failingStore{Store: s, complete: errBackend} }, 201, 1, "failed to complete"},
		{"lease lost at complete: response still sent", func(s idempotency.Store) idempotency.Store {
			return &failingStore{Store: s, complete: idempotency.ErrLeaseLost}
		}, 201, 1, "lease lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e2 := newEnv(t, created, func(c *idempotency.Config) { c.Store = tt.store(c.Store) })
			w := e2.do(post("alice", key1, `{"a":1}`))
			if w.Code != tt.want || e2.runs.Load() != tt.wantRuns {
				t.Errorf("got %d, %d runs; want %d, %d runs", w.Code, e2.runs.Load(), tt.want, tt.wantRuns)
			}
			if w.Code == 503 && (problemType(w) != string(problem.Unavailable) || w.Header().Get("Retry-After") == "") {
				t.Errorf("503: got type %q Retry-After %q", problemType(w), w.Header().Get("Retry-After"))
			}
			logs := e2.logs.String()
			if !strings.Contains(logs, tt.wantLog) {
				t.Errorf("log: got %q, want it to mention %q", logs, tt.wantLog)
			}
			for _, secret := range []string{"pat-123", "k-secret", "alice", "8e03978e", "obs-1"} {
				if strings.Contains(logs, secret) {
					t.Errorf("log carries %q: %s", secret, logs)
				}
			}
			for _, secret := range []string{"pat-123", "k-secret", "8e03978e"} { // the 201's body is the handler's
				if strings.Contains(w.Body.String(), secret) {
					t.Errorf("body carries %q: %s", secret, w.Body)
				}
			}
		})
	}
}

type panickingStore struct{ idempotency.Store }

func (panickingStore) Claim(context.Context, string, string, []byte, time.Time, time.Duration) (idempotency.Claim, error) {
	panic("patient pat-123")
}

func TestCompleteFallsBackToNotReplayable(t *testing.T) {
	// A store that refuses the response (too big for it) but takes the record.
	s, _ := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{MaxStoredBytes: 64})
	e2 := newEnv(t, created, func(c *idempotency.Config) { c.Store = s })
	if w := e2.do(post("alice", key1, `{"a":1}`)); w.Code != 201 {
		t.Fatalf("first: got %d, want 201", w.Code)
	}
	w := e2.do(post("alice", key1, `{"a":1}`))
	if w.Code != 409 || problemType(w) != string(problem.IdempotencyNotReplayable) || e2.runs.Load() != 1 {
		t.Errorf("retry: got %d %q, %d runs; want 409 not replayable, 1 run", w.Code, problemType(w), e2.runs.Load())
	}
}

func TestReplayWithRotatedSealerFailsClosed(t *testing.T) {
	e := newEnv(t, created, nil)
	e.do(post("alice", key1, `{"a":1}`))
	other, _ := idempotency.NewAESGCM(bytes.Repeat([]byte{9}, 32))
	mw, err := idempotency.New(idempotency.Config{Store: e.store, Sealer: other, Key: principalOf, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	rotated := &env{h: mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs++ }))}
	w := rotated.do(post("alice", key1, `{"a":1}`))
	if w.Code != 500 || problemType(w) != string(problem.Internal) || runs != 0 {
		t.Errorf("got %d %q, %d runs; want 500 %q, 0 runs", w.Code, problemType(w), runs, problem.Internal)
	}
}

func TestNextGetsTheBodyUnread(t *testing.T) {
	body := `{ "b" : 2, "a" : 1 }`
	var got []byte
	var gotLen int64
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		gotLen = r.ContentLength
	}, nil)
	e.do(post("alice", key1, body))
	if string(got) != body || gotLen != int64(len(body)) {
		t.Errorf("handler got %q (Content-Length %d), want %q (%d)", got, gotLen, body, len(body))
	}
}

func TestAuditAnnotations(t *testing.T) {
	tests := []struct {
		name          string
		requests      []req
		wantRejection string
		wantNote      string
	}{
		{"replay noted", []req{post("alice", key1, `{}`), post("alice", key1, `{}`)}, "", idempotency.NoteReplay},
		{"key reused", []req{post("alice", key1, `{}`), post("alice", key1, `{"x":1}`)}, idempotency.RejectionKeyReused, ""},
		{"missing key", []req{{method: "POST", target: "/x", principal: "alice"}}, idempotency.RejectionMissingKey, ""},
		{"invalid key", []req{post("alice", "a b", `{}`)}, idempotency.RejectionInvalidKey, ""},
		{"no principal", []req{post("", key1, `{}`)}, idempotency.RejectionUnauthenticated, ""},
		{"first request: nothing", []req{post("alice", key1, `{}`)}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, created, nil)
			sink := &eventSink{}
			am, err := audit.New(audit.Config{Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			e.h = am.Handler(e.h)
			for _, q := range tt.requests {
				e.do(q)
			}
			ev := sink.last()
			if ev.Rejection != tt.wantRejection {
				t.Errorf("Rejection: got %q, want %q", ev.Rejection, tt.wantRejection)
			}
			if gotNote := strings.Join(ev.Notes, ","); gotNote != tt.wantNote {
				t.Errorf("Notes: got %q, want %q", gotNote, tt.wantNote)
			}
		})
	}
	t.Run("in progress", func(t *testing.T) {
		e := newEnv(t, created, nil)
		holdClaim(t, e)
		sink := &eventSink{}
		am, _ := audit.New(audit.Config{Sink: sink})
		e.h = am.Handler(e.h)
		e.do(post("alice", key1, `{"a":1}`))
		if got := sink.last().Rejection; got != idempotency.RejectionInProgress {
			t.Errorf("Rejection: got %q, want %q", got, idempotency.RejectionInProgress)
		}
	})
}

func TestNew(t *testing.T) {
	store, _ := idempotency.NewMemoryStore(idempotency.MemoryStoreConfig{})
	sealer, _ := idempotency.NewAESGCM(testKey)
	ok := func() idempotency.Config {
		return idempotency.Config{Store: store, Sealer: sealer, Key: principalOf}
	}
	tests := []struct {
		name    string
		mod     func(*idempotency.Config)
		wantErr bool
	}{
		{"minimal", func(*idempotency.Config) {}, false},
		{"custom replay headers", func(c *idempotency.Config) { c.ReplayHeaders = []string{"content-type", "X-Request-Id"} }, false},
		{"empty replay headers", func(c *idempotency.Config) { c.ReplayHeaders = []string{} }, false},
		{"no store", func(c *idempotency.Config) { c.Store = nil }, true},
		{"no sealer", func(c *idempotency.Config) { c.Sealer = nil }, true},
		{"no key function", func(c *idempotency.Config) { c.Key = nil }, true},
		{"Set-Cookie replayed", func(c *idempotency.Config) { c.ReplayHeaders = []string{"Location", "set-cookie"} }, true},
		{"Set-Cookie2 replayed", func(c *idempotency.Config) { c.ReplayHeaders = []string{"Set-Cookie2"} }, true},
		{"Content-Length replayed", func(c *idempotency.Config) { c.ReplayHeaders = []string{"Content-Length"} }, true},
		{"empty header name", func(c *idempotency.Config) { c.ReplayHeaders = []string{""} }, true},
		{"empty method", func(c *idempotency.Config) { c.Methods = []string{""} }, true},
		{"methods", func(c *idempotency.Config) { c.Methods = []string{"POST", "PUT", "DELETE", "X-ORDER"} }, false},
		{"lower-case POST: would never match a request", func(c *idempotency.Config) { c.Methods = []string{"post"} }, true},
		{"method with a space", func(c *idempotency.Config) { c.Methods = []string{"POST "} }, true},
		{"negative TTL", func(c *idempotency.Config) { c.TTL = -1 }, true},
		{"negative Lease", func(c *idempotency.Config) { c.Lease = -1 }, true},
		{"negative Wait", func(c *idempotency.Config) { c.Wait = -1 }, true},
		{"negative MaxResponseBytes", func(c *idempotency.Config) { c.MaxResponseBytes = -1 }, true},
		{"negative MaxBodyBytes", func(c *idempotency.Config) { c.MaxBodyBytes = -1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok()
			tt.mod(&cfg)
			_, err := idempotency.New(cfg)
			if (err != nil) != tt.wantErr || (err != nil && !errors.Is(err, idempotency.ErrInvalidConfig)) {
				t.Errorf("got error %v, want error %v (ErrInvalidConfig)", err, tt.wantErr)
			}
		})
	}
}

func TestReplayHeadersAllowList(t *testing.T) {
	e := newEnv(t, created, func(c *idempotency.Config) { c.ReplayHeaders = []string{"x-internal"} })
	e.do(post("alice", key1, `{}`))
	w := e.do(post("alice", key1, `{}`))
	if w.Header().Get("X-Internal") != "node-7" || w.Header().Get("Location") != "" || w.Header().Get("Set-Cookie") != "" {
		t.Errorf("got X-Internal %q Location %q Set-Cookie %q; want node-7, none, none", w.Header().Get("X-Internal"), w.Header().Get("Location"), w.Header().Get("Set-Cookie"))
	}
}

func TestCustomErrorHandler(t *testing.T) {
	var got error
	e := newEnv(t, created, func(c *idempotency.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	w := e.do(req{method: "POST", target: "/x", principal: "alice"})
	if w.Code != http.StatusTeapot || !errors.Is(got, idempotency.ErrMissingKey) {
		t.Errorf("got %d, err %v; want 418, ErrMissingKey", w.Code, got)
	}
}

func TestFlushReachesTheClientAndIsReplayed(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = io.WriteString(w, `{"part":1,`)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("Flush through the middleware: %v", err)
		}
		w.Header().Set("Location", "/too/late") // after the status: the client never sees it
		_, _ = io.WriteString(w, `"part2":2}`)
	}, nil)
	first := e.do(post("alice", key1, `{}`))
	if !first.Flushed {
		t.Errorf("first: not flushed")
	}
	again := e.do(post("alice", key1, `{}`))
	if again.Code != 200 || again.Body.String() != `{"part":1,"part2":2}` || again.Header().Get("Location") != "" || again.Header().Get("Content-Type") != "application/fhir+json" {
		t.Errorf("replay: got %d %q Location %q Content-Type %q; want 200, the whole body, no Location, the type",
			again.Code, again.Body, again.Header().Get("Location"), again.Header().Get("Content-Type"))
	}
}

func TestWaitRunsWhenTheFirstReleases(t *testing.T) {
	var finishFirst func()
	e := newEnv(t, created, func(c *idempotency.Config) {
		c.Wait = 5 * time.Second
		sleep := c.Sleep
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			finishFirst() // the first request fails with a 503 and releases the key
			return sleep(ctx, d)
		}
	})
	// The first request holds the key and then answers 503.
	parked, proceed, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	sealer, _ := idempotency.NewAESGCM(testKey)
	mw, _ := idempotency.New(idempotency.Config{Store: e.store, Sealer: sealer, Key: principalOf, Now: e.clock.Now})
	go func() {
		defer close(done)
		(&env{h: mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(parked)
			<-proceed
			w.WriteHeader(http.StatusServiceUnavailable)
		}))}).do(post("alice", key1, `{"a":1}`))
	}()
	<-parked
	var once sync.Once
	finishFirst = func() { once.Do(func() { close(proceed); <-done }) }
	defer finishFirst()
	w := e.do(post("alice", key1, `{"a":1}`))
	if w.Code != 201 || e.runs.Load() != 1 {
		t.Errorf("got %d, %d runs; want 201, 1 run (the waiter took the released key)", w.Code, e.runs.Load())
	}
}

// failingWriter is a client connection that breaks after limit bytes of body: writes past
// it fail, as net/http's do once the peer is gone.
type failingWriter struct {
	*httptest.ResponseRecorder
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	n := min(len(p), max(f.limit-f.Body.Len(), 0))
	_, _ = f.ResponseRecorder.Write(p[:n])
	if n < len(p) {
		return n, errors.New("write: broken pipe")
	}
	return n, nil
}

// A response that could not be written whole is never replayed as if it were complete:
// the handler ran, so it is not run again, and the retry gets 409 not replayable.
func TestBrokenClientWriteIsNotStoredAsComplete(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		wantCode  int
		wantRuns  int64
		wantReply string
	}{
		{"handler ignores the error: 409 not replayable", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"resourceType":`)
			_, _ = io.WriteString(w, `"Observation"}`)
		}, 409, 1, ""},
		{"handler stops at the error: 409 not replayable", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			if _, err := io.WriteString(w, `{"resourceType":"Observation"}`); err != nil {
				return
			}
			_, _ = io.WriteString(w, "\n")
		}, 409, 1, ""},
		{"written whole: replayed", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"ok":1}`)
		}, 201, 1, `{"ok":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.handler, nil)
			q := post("alice", key1, `{}`)
			r := httptest.NewRequest(q.method, q.target, strings.NewReader(q.body))
			r.Header.Set("X-Principal", q.principal)
			r.Header.Set("Content-Type", q.ct)
			r.Header.Set("Idempotency-Key", key1)
			e.h.ServeHTTP(&failingWriter{ResponseRecorder: httptest.NewRecorder(), limit: 20}, r)
			again := e.do(q)
			if again.Code != tt.wantCode || e.runs.Load() != tt.wantRuns || (tt.wantReply != "" && again.Body.String() != tt.wantReply) {
				t.Errorf("retry: got %d %q, %d runs; want %d %q, %d runs", again.Code, again.Body, e.runs.Load(), tt.wantCode, tt.wantReply, tt.wantRuns)
			}
			if tt.wantCode == 409 && problemType(again) != string(problem.IdempotencyNotReplayable) {
				t.Errorf("type: got %q, want %q", problemType(again), problem.IdempotencyNotReplayable)
			}
		})
	}
}

// A dead store is logged once when it starts failing and once when it recovers, not once
// a request; each operation on its own, so that a store whose Claim works and whose
// Complete fails does not log two lines a request.
func TestStoreFailureLoggedOncePerOutage(t *testing.T) {
	fs := &failingStore{}
	e := newEnv(t, created, func(c *idempotency.Config) { fs.Store = c.Store; c.Store = fs })
	steps := []struct {
		name                   string
		claim, complete        error
		want                   int
		wantFailed, wantHealed int
	}{
		{"healthy", nil, nil, 201, 0, 0},
		{"claim fails: logged", errBackend, nil, 503, 1, 0},
		{"claim fails again: not logged again", errBackend, nil, 503, 1, 0},
		{"and again", errBackend, nil, 503, 1, 0},
		{"store back: recovery logged", nil, nil, 201, 1, 1},
		{"healthy again: nothing logged", nil, nil, 201, 1, 1},
		{"complete fails: a new outage, logged", nil, errBackend, 201, 2, 1},
		{"complete fails again, claim works: not logged again", nil, errBackend, 201, 2, 1},
		{"claim fails too: its own outage, logged", errBackend, nil, 503, 3, 1},
		{"claim fails again: not logged again", errBackend, nil, 503, 3, 1},
		{"store back: recovery of claim and complete logged", nil, nil, 201, 3, 3},
		{"healthy: nothing logged", nil, nil, 201, 3, 3},
	}
	for i, st := range steps {
		fs.claim, fs.complete = st.claim, st.complete
		w := e.do(post("alice", fmt.Sprintf("k-%d", i), `{"a":1}`))
		logs := e.logs.String()
		failed, healed := strings.Count(logs, "level=ERROR"), strings.Count(logs, "store recovered:")
		if w.Code != st.want || failed != st.wantFailed || healed != st.wantHealed {
			t.Errorf("%s: got %d, %d failure and %d recovery lines; want %d, %d and %d", st.name, w.Code, failed, healed, st.want, st.wantFailed, st.wantHealed)
		}
	}
}

// hijackable is a client connection that a handler can take over.
type hijackable struct{ *httptest.ResponseRecorder }

func (h hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, peer := net.Pipe()
	_ = peer.Close()
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// Informational responses reach the client but are not what is stored; a hijacked
// connection's response is unknown, so it is never replayed nor run again.
func TestInformationalAndHijackedResponses(t *testing.T) {
	tests := []struct {
		name         string
		handler      http.HandlerFunc
		wantCode     int
		wantLocation string
	}{
		{"103 then 201: the 201 is replayed, with headers as at the 201", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Location", "/fhir/Observation/obs-1")
			w.WriteHeader(http.StatusCreated)
		}, 201, "/fhir/Observation/obs-1"},
		{"103 only: an implicit 200 is replayed", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
		}, 200, ""},
		{"hijacked: 409 not replayable, not run again", func(w http.ResponseWriter, r *http.Request) {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("Hijack through the middleware: %v", err)
				return
			}
			_ = c.Close()
		}, 409, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.handler, nil)
			q := post("alice", key1, `{}`)
			r := httptest.NewRequest(q.method, q.target, strings.NewReader(q.body))
			r.Header.Set("X-Principal", q.principal)
			r.Header.Set("Content-Type", q.ct)
			r.Header.Set("Idempotency-Key", key1)
			e.h.ServeHTTP(hijackable{httptest.NewRecorder()}, r)
			again := e.do(q)
			if again.Code != tt.wantCode || e.runs.Load() != 1 || again.Header().Get("Location") != tt.wantLocation {
				t.Errorf("retry: got %d Location %q, %d runs; want %d %q, 1 run", again.Code, again.Header().Get("Location"), e.runs.Load(), tt.wantCode, tt.wantLocation)
			}
		})
	}
}
