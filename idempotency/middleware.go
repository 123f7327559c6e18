package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/respwriter"
	"github.com/phikit/phikit/problem"
)

// Defaults of Config.
const (
	// DefaultTTL is how long a completed request's response is kept and replayed: 24
	// hours, the expiry this package publishes for Idempotency-Key (the draft asks servers
	// to publish one). A retry after it runs the request again.
	DefaultTTL = 24 * time.Hour
	// DefaultLease is how long a claimed key stays locked while its request runs: a
	// duplicate gets 409 meanwhile, and if the process running it crashes, a retry
	// after the lease runs the request.
	DefaultLease = time.Minute
	// DefaultMaxResponseBytes is the largest response body stored for replay (1 MiB).
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxBodyBytes is the largest request body read to fingerprint (1 MiB).
	DefaultMaxBodyBytes = 1 << 20
	// DefaultStoreTimeout bounds each store call.
	DefaultStoreTimeout = 2 * time.Second
)

// Bounds of the backoff while Config.Wait polls for a running duplicate.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 250 * time.Millisecond
)

// DefaultReplayHeaders returns the response headers replayed when Config.ReplayHeaders is
// nil: Content-Type, Content-Location, Location, ETag and Last-Modified.
func DefaultReplayHeaders() []string {
	return []string{"Content-Type", "Content-Location", "Location", "ETag", "Last-Modified"}
}

// Config configures the middleware. Store, Sealer and Key are required.
type Config struct {
	// Store keeps the records (MemoryStore, or the Redis and PostgreSQL stores in the
	// subpackages). Required.
	Store Store
	// Sealer encrypts stored responses, which hold PHI, bound to their record's key.
	// Required: there is no plaintext mode. NewAESGCM, or package crypto's AEAD.
	Sealer Sealer
	// Key returns the principal a request's key is scoped to (authn.KeyBySubject, or a
	// tenant-and-subject function). Required. When it reports false (or an empty
	// principal) for a request that
	// carries (or must carry) an Idempotency-Key, the request is refused with 401
	// (problem.Unauthenticated): keys are never shared between principals, or unscoped.
	Key func(*http.Request) (string, bool)
	// InsecureOptionalKey lets a request without an Idempotency-Key through, unprotected:
	// a retry of it runs the handler again. False (the default) refuses it with 400
	// (problem.IdempotencyKeyMissing). Wrap each route with the middleware that suits it.
	InsecureOptionalKey bool
	// Methods are the methods the middleware applies to; requests with other methods pass
	// through untouched, with or without the header. Nil means POST and PATCH (the
	// methods that are not idempotent by definition). Methods are case-sensitive: New
	// refuses a standard method spelled in lower case, which would match no request.
	Methods []string
	// TTL is how long a completed response is kept and replayed; zero means DefaultTTL.
	TTL time.Duration
	// Lease is how long a claim stays locked while its request runs; zero means
	// DefaultLease. Set it above the slowest handler's time: a request that runs longer
	// loses its lock, a retry then runs concurrently, and the first one's response is not
	// stored (logged as a lost lease).
	Lease time.Duration
	// Wait is how long a duplicate of a running request waits for it to finish, polling
	// the store with a backoff from 10 ms to 250 ms, before answering 409; zero means it
	// answers 409 at once. When the first request finishes meanwhile the duplicate gets
	// its replay (or runs, if the first released the key).
	Wait time.Duration
	// MaxResponseBytes is the largest response body stored for replay; zero means
	// DefaultMaxResponseBytes. A larger response is sent to the client in full but stored
	// as not replayable: a retry with the same key gets 409
	// (problem.IdempotencyNotReplayable) and the request is not run again.
	MaxResponseBytes int64
	// MaxBodyBytes is the largest request body read to fingerprint; zero means
	// DefaultMaxBodyBytes. A larger one gets 413 (problem.PayloadTooLarge).
	MaxBodyBytes int64
	// ReplayHeaders are the response headers stored and replayed; nil means
	// DefaultReplayHeaders(). Set-Cookie and Set-Cookie2 are never replayed: New refuses
	// them.
	ReplayHeaders []string
	// StoreTimeout bounds each store call; zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Now is the clock whose times are given to the store; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx is done, between polls under Wait; nil means a timer.
	// Tests inject one that advances a fake clock.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives store failures (once when a store operation starts failing, once
	// when it recovers), lost leases and responses that could not be sealed or opened, by
	// kind only; nil means discard.
	Logger *slog.Logger
	// ErrorHandler answers refused requests with err wrapping one of the package's Err
	// values; Retry-After is already set for ErrInProgress and ErrStoreUnavailable. Nil
	// means problem.Write with the type each Err value names.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware makes retries of unsafe requests safe with the Idempotency-Key header
// (draft-ietf-httpapi-idempotency-key-header). Its configuration is immutable (it keeps
// only whether the store is failing, to log an outage once) and it is safe for
// concurrent use.
type Middleware struct {
	store    Store
	sealer   Sealer
	key      func(*http.Request) (string, bool)
	optional bool // Config.InsecureOptionalKey
	methods  []string
	ttl      time.Duration
	lease    time.Duration
	wait     time.Duration
	maxResp  int64
	maxBody  int64
	replay   map[string]bool
	timeout  time.Duration
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	logger   *slog.Logger
	onError  func(http.ResponseWriter, *http.Request, error)

	// The only mutable state: whether each store operation is failing, so that an
	// outage is logged when it starts and when it ends, not once a request.
	claimHealth, completeHealth, releaseHealth storeHealth
}

// storeHealth tells the operator, once each, when a store operation starts failing and
// when it works again.
type storeHealth struct{ failing atomic.Bool }

// failed logs msg with err's kind if the operation was working until now.
func (h *storeHealth) failed(ctx context.Context, logger *slog.Logger, msg string, err error) {
	if h.failing.CompareAndSwap(false, true) {
		logger.LogAttrs(ctx, slog.LevelError, msg+"; not logged again until it recovers", logattr.Error(err))
	}
}

// worked logs msg if the operation was failing until now.
func (h *storeHealth) worked(ctx context.Context, logger *slog.Logger, msg string) {
	if h.failing.Load() && h.failing.CompareAndSwap(true, false) {
		logger.LogAttrs(ctx, slog.LevelInfo, msg)
	}
}

// New checks cfg and returns the middleware.
func New(cfg Config) (*Middleware, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("idempotency: Config.Store is required: %w", ErrInvalidConfig)
	case cfg.Sealer == nil:
		return nil, fmt.Errorf("idempotency: Config.Sealer is required: %w", ErrInvalidConfig)
	case cfg.Key == nil:
		return nil, fmt.Errorf("idempotency: Config.Key is required: %w", ErrInvalidConfig)
	case cfg.TTL < 0, cfg.Lease < 0, cfg.Wait < 0, cfg.MaxResponseBytes < 0, cfg.MaxBodyBytes < 0, cfg.StoreTimeout < 0:
		return nil, fmt.Errorf("idempotency: TTL, Lease, Wait, MaxResponseBytes, MaxBodyBytes and StoreTimeout must not be negative: %w", ErrInvalidConfig)
	}
	m := &Middleware{
		store: cfg.Store, sealer: cfg.Sealer, key: cfg.Key, optional: cfg.InsecureOptionalKey,
		ttl: cfg.TTL, lease: cfg.Lease, wait: cfg.Wait, maxResp: cfg.MaxResponseBytes,
		maxBody: cfg.MaxBodyBytes, timeout: cfg.StoreTimeout, now: cfg.Now, sleep: cfg.Sleep,
		logger: cfg.Logger, onError: cfg.ErrorHandler, replay: map[string]bool{},
	}
	m.methods = []string{http.MethodPost, http.MethodPatch}
	if cfg.Methods != nil {
		m.methods = nil
		for _, meth := range cfg.Methods {
			if !validMethod(meth) {
				// Methods are case-sensitive: "post" would never match a POST, and the
				// routes would run unprotected.
				return nil, fmt.Errorf("idempotency: Config.Methods has an empty, malformed or lower-case method: %w", ErrInvalidConfig)
			}
			m.methods = append(m.methods, meth)
		}
	}
	headers := cfg.ReplayHeaders
	if headers == nil {
		headers = DefaultReplayHeaders()
	}
	for _, h := range headers {
		k := textproto.CanonicalMIMEHeaderKey(h)
		switch k {
		case "", "Set-Cookie", "Set-Cookie2":
			return nil, fmt.Errorf("idempotency: Config.ReplayHeaders must not list an empty name, Set-Cookie or Set-Cookie2: %w", ErrInvalidConfig)
		case "Content-Length", "Transfer-Encoding", "Connection", HeaderReplayed:
			return nil, fmt.Errorf("idempotency: Config.ReplayHeaders must not list framing headers or %s: %w", HeaderReplayed, ErrInvalidConfig)
		}
		m.replay[k] = true
	}
	if m.ttl == 0 {
		m.ttl = DefaultTTL
	}
	if m.lease == 0 {
		m.lease = DefaultLease
	}
	if m.maxResp == 0 {
		m.maxResp = DefaultMaxResponseBytes
	}
	if m.maxBody == 0 {
		m.maxBody = DefaultMaxBodyBytes
	}
	if m.timeout == 0 {
		m.timeout = DefaultStoreTimeout
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.sleep == nil {
		m.sleep = sleepCtx
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.onError == nil {
		m.onError = writeProblem
	}
	return m, nil
}

// validMethod reports whether meth is a method token (RFC 9110 §9.1) and not a standard
// method spelled in another case.
func validMethod(meth string) bool {
	if meth == "" {
		return false
	}
	for i := 0; i < len(meth); i++ {
		c := meth[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	switch up := strings.ToUpper(meth); up {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return up == meth
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeProblem is the default ErrorHandler.
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	_, t := refusal(err)
	problem.Write(w, r, t)
}

// refusal names err, one of the package's Err values, for audit.Event.Rejection, and
// gives the problem type the default ErrorHandler answers it with.
func refusal(err error) (rejection string, t problem.Type) {
	switch {
	case errors.Is(err, ErrUnauthenticated):
		return RejectionUnauthenticated, problem.Unauthenticated
	case errors.Is(err, ErrMissingKey):
		return RejectionMissingKey, problem.IdempotencyKeyMissing
	case errors.Is(err, ErrInvalidKey):
		return RejectionInvalidKey, problem.IdempotencyKeyInvalid
	case errors.Is(err, ErrBodyTooLarge):
		return RejectionBodyTooLarge, problem.PayloadTooLarge
	case errors.Is(err, ErrReadBody):
		return RejectionReadBody, problem.InvalidRequest
	case errors.Is(err, ErrKeyReused):
		return RejectionKeyReused, problem.IdempotencyKeyReused
	case errors.Is(err, ErrInProgress):
		return RejectionInProgress, problem.IdempotencyInProgress
	case errors.Is(err, ErrNotReplayable):
		return RejectionNotReplayable, problem.IdempotencyNotReplayable
	case errors.Is(err, ErrStoreUnavailable):
		return RejectionUnavailable, problem.Unavailable
	default: // ErrReplayFailed
		return RejectionReplayFailed, problem.Internal
	}
}

// Handler wraps next. A request with a method in Config.Methods and an Idempotency-Key
// (or on a Required route) is scoped to its principal, method and route, fingerprinted,
// and claimed in the store: the first runs next and its response is stored, sealed; a
// retry with the same fingerprint gets the stored response back, marked with
// "Idempotent-Replayed: true", without next running. See the package documentation for
// every answer.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(m.methods, r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		key, ok, err := keyOf(r)
		if err != nil {
			m.refuse(w, r, ErrInvalidKey)
			return
		}
		if !ok && m.optional {
			next.ServeHTTP(w, r)
			return
		}
		principal, pok := m.key(r)
		if !pok || principal == "" {
			m.refuse(w, r, ErrUnauthenticated)
			return
		}
		if !ok {
			m.refuse(w, r, ErrMissingKey)
			return
		}
		body, err := m.readBody(w, r)
		if err != nil { // ErrBodyTooLarge or ErrReadBody
			m.refuse(w, r, err)
			return
		}
		route := r.Pattern
		if route == "" {
			route = r.URL.EscapedPath()
		}
		rec := &request{
			m:           m,
			storeKey:    scopeKey(principal, r.Method, route, key),
			fingerprint: fingerprint(r, body),
			token:       rand.Text(),
		}
		r2 := r.WithContext(r.Context()) // a shallow copy, so the caller's request is not modified
		if body != nil {
			r2.Body = io.NopCloser(bytes.NewReader(body))
			r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		rec.serve(w, r2, next)
	})
}

// refuse records err's rejection in the audit event and answers with the ErrorHandler.
func (m *Middleware) refuse(w http.ResponseWriter, r *http.Request, err error) {
	rejection, _ := refusal(err)
	switch {
	case errors.Is(err, ErrInProgress), errors.Is(err, ErrStoreUnavailable):
		w.Header().Set("Retry-After", "1")
	}
	audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = rejection })
	m.onError(w, r, err)
}

func note(r *http.Request, n string) {
	audit.Annotate(r.Context(), func(e *audit.Event) { e.Notes = append(e.Notes, n) })
}

// readBody reads r's body, at most m.maxBody bytes of it.
func (m *Middleware) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > m.maxBody {
		return nil, ErrBodyTooLarge
	}
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, ErrBodyTooLarge
		}
		return nil, ErrReadBody
	}
	return body, nil
}

// request is one request's claim on a key.
type request struct {
	m           *Middleware
	storeKey    string
	fingerprint []byte
	token       string
}

func (q *request) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	m := q.m
	c, err := q.claim(r)
	switch {
	case err == nil:
		m.claimHealth.worked(r.Context(), m.logger, "idempotency: store recovered: keys are claimed again")
	case r.Context().Err() == nil: // not a client that went away
		m.claimHealth.failed(r.Context(), m.logger, "idempotency: store failed to claim a key; requests with a key are refused (503)", err)
	}
	if err != nil {
		m.refuse(w, r, ErrStoreUnavailable)
		return
	}
	switch {
	case c.Acquired:
		q.run(w, r, next)
	case !bytes.Equal(c.Fingerprint, q.fingerprint):
		m.refuse(w, r, ErrKeyReused)
	case !c.Completed:
		m.refuse(w, r, ErrInProgress)
	case len(c.Response) == 0: // nil: stored as not replayable (a sealed response is never empty)
		m.refuse(w, r, ErrNotReplayable)
	default:
		q.replay(w, r, c.Response)
	}
}

// claim claims the key, and under Config.Wait polls while a request with the same
// fingerprint holds it.
func (q *request) claim(r *http.Request) (Claim, error) {
	m := q.m
	start := m.now()
	delay := minPoll
	for {
		c, err := q.call(r.Context(), func(ctx context.Context) (Claim, error) {
			return m.store.Claim(ctx, q.storeKey, q.token, q.fingerprint, m.now(), m.lease)
		})
		if err != nil || c.Acquired || c.Completed || m.wait == 0 || !bytes.Equal(c.Fingerprint, q.fingerprint) {
			return c, err
		}
		left := m.wait - m.now().Sub(start)
		if left <= 0 {
			return c, nil
		}
		if err := m.sleep(r.Context(), min(delay, left)); err != nil {
			return c, nil // the client went away: answer the 409 it will not read
		}
		delay = min(2*delay, maxPoll)
	}
}

// call runs f with the store timeout, turning a panic into an error.
func (q *request) call(ctx context.Context, f func(context.Context) (Claim, error)) (c Claim, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("idempotency: store panicked (%T)", p) // the value may quote a key
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, q.m.timeout)
	defer cancel()
	return f(ctx)
}

// finishCall is call for Complete and Release: it runs even when the client has gone, so
// it does not inherit the request's cancellation.
func (q *request) finishCall(r *http.Request, f func(context.Context) error) error {
	_, err := q.call(context.WithoutCancel(r.Context()), func(ctx context.Context) (Claim, error) {
		return Claim{}, f(ctx)
	})
	return err
}

// run runs next as the holder of the key's lease, streaming its response to the client
// and keeping a copy, then stores it or releases the key.
func (q *request) run(w http.ResponseWriter, r *http.Request, next http.Handler) {
	t := &tee{w: w, buf: respwriter.NewBuffer(q.m.maxResp), allow: q.m.replay}
	rw := respwriter.New(t)
	done := false
	defer func() {
		if !done { // next panicked (or called runtime.Goexit): let the client retry
			q.release(r)
		}
	}()
	next.ServeHTTP(rw, r)
	done = true

	status := rw.Status()
	switch {
	case rw.Hijacked():
		q.complete(r, nil) // what was sent is unknown; never run it twice
		note(r, NoteNotStored)
		return
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		q.release(r)
		return
	case !rw.Written() && r.Context().Err() != nil:
		q.release(r) // cancelled before answering: the work was presumably abandoned
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	t.snapshot()
	if t.buf.Overflowed() || t.broken {
		// Too large to keep, or not all of it reached the client (the connection broke):
		// never replay a truncated body as if it were the response.
		q.complete(r, nil)
		note(r, NoteNotStored)
		return
	}
	plain := (&storedResponse{status: status, header: t.header, body: t.buf.Body()}).appendBinary(nil)
	sealed, err := q.m.sealer.Seal(plain, []byte(q.storeKey))
	clear(plain)
	if err != nil {
		q.m.logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: cannot seal a response; stored as not replayable", logattr.Error(err))
		sealed = nil
	}
	if !q.complete(r, sealed) || sealed == nil {
		note(r, NoteNotStored)
	}
}

// complete stores response, falling back to storing it as not replayable when the store
// refuses it for another reason than a lost lease. It reports whether response was
// stored.
func (q *request) complete(r *http.Request, response []byte) bool {
	m := q.m
	err := q.finishCall(r, func(ctx context.Context) error {
		return m.store.Complete(ctx, q.storeKey, q.token, response, m.now(), m.ttl)
	})
	const recovered = "idempotency: store recovered: responses are stored again"
	if err == nil {
		m.completeHealth.worked(r.Context(), m.logger, recovered)
		return true
	}
	if errors.Is(err, ErrLeaseLost) {
		m.completeHealth.worked(r.Context(), m.logger, recovered)
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "idempotency: lease lost before the response was stored; raise Lease above the handler's time")
		return false
	}
	if response != nil {
		err = q.finishCall(r, func(ctx context.Context) error {
			return m.store.Complete(ctx, q.storeKey, q.token, nil, m.now(), m.ttl)
		})
		if err == nil {
			m.completeHealth.worked(r.Context(), m.logger, recovered)
			m.logger.LogAttrs(r.Context(), slog.LevelWarn, "idempotency: store refused a response; stored as not replayable")
			return false
		}
	}
	m.completeHealth.failed(r.Context(), m.logger, "idempotency: store failed to complete a key; such keys stay locked until their lease ends", err)
	return false
}

func (q *request) release(r *http.Request) {
	m := q.m
	note(r, NoteReleased)
	err := q.finishCall(r, func(ctx context.Context) error {
		return m.store.Release(ctx, q.storeKey, q.token, m.now())
	})
	const recovered = "idempotency: store recovered: keys are released again"
	switch {
	case err == nil:
		m.releaseHealth.worked(r.Context(), m.logger, recovered)
	case errors.Is(err, ErrLeaseLost):
		m.releaseHealth.worked(r.Context(), m.logger, recovered)
		m.logger.LogAttrs(r.Context(), slog.LevelWarn, "idempotency: lease lost before the key was released")
	default:
		m.releaseHealth.failed(r.Context(), m.logger, "idempotency: store failed to release a key; such keys stay locked until their lease ends", err)
	}
}

// replay answers with the stored response.
func (q *request) replay(w http.ResponseWriter, r *http.Request, sealed []byte) {
	m := q.m
	plain, err := m.sealer.Open(sealed, []byte(q.storeKey))
	var s storedResponse
	if err == nil {
		s, err = decodeResponse(plain)
	}
	if err != nil {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "idempotency: cannot open a stored response (key rotated?); request refused", logattr.Error(err))
		m.refuse(w, r, ErrReplayFailed)
		return
	}
	h := w.Header()
	for k, vs := range s.header {
		if m.replay[k] { // the allow-list of today, not of when it was stored
			h[k] = vs
		}
	}
	h.Set(HeaderReplayed, "true")
	note(r, NoteReplay)
	w.WriteHeader(s.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(s.body)
	}
}

// tee passes the response through to w and keeps a copy of the body (up to the buffer's
// limit) and of the allow-listed headers as they were when the status was sent. The
// handler sees it through a respwriter.Writer, which reaches w's Flush and Hijack through
// Unwrap.
type tee struct {
	w      http.ResponseWriter
	buf    *respwriter.Buffer
	allow  map[string]bool
	header http.Header // allow-listed headers, taken when the status was sent
	broken bool        // a write to w failed: the copy may lack what the handler wrote next
}

func (t *tee) Header() http.Header { return t.w.Header() }

func (t *tee) WriteHeader(code int) {
	t.w.WriteHeader(code)
	if code >= 200 {
		t.snapshot()
	}
}

func (t *tee) Write(p []byte) (int, error) {
	t.snapshot()
	n, err := t.w.Write(p)
	_, _ = t.buf.Write(p[:n])
	if err != nil {
		t.broken = true
	}
	return n, err
}

// FlushError flushes w (through http.ResponseController), which sends the status: the
// headers are taken then.
func (t *tee) FlushError() error {
	t.snapshot()
	return http.NewResponseController(t.w).Flush()
}

func (t *tee) Unwrap() http.ResponseWriter { return t.w }

// snapshot keeps the allow-listed headers as they are now, unless it already has.
func (t *tee) snapshot() {
	if t.header != nil {
		return
	}
	t.header = http.Header{}
	for k, vs := range t.w.Header() {
		if t.allow[k] {
			t.header[k] = slices.Clone(vs)
		}
	}
}
