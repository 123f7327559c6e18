package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/problem"
)

// ErrRateLimited is the error the middleware hands to Config.ErrorHandler when a request
// is refused.
var ErrRateLimited = errors.New("ratelimit: rate limit exceeded")

// RejectionRateLimited is recorded in audit.Event.Rejection for a refused request.
const RejectionRateLimited = "ratelimit.exceeded"

// ErrStoreUnavailable is the error the middleware hands to Config.ErrorHandler when the
// store failed (or the circuit breaker is open) and OnStoreError is FailClosed.
var ErrStoreUnavailable = errors.New("ratelimit: store unavailable")

// RejectionStoreUnavailable is recorded in audit.Event.Rejection for a request refused
// because the store failed under FailClosed.
const RejectionStoreUnavailable = "ratelimit.unavailable"

// StoreErrorMode says what the middleware does when Config.Store fails.
type StoreErrorMode int

const (
	// FallbackLocal decides with Config.Limiter, in this process, while the store is
	// failing: each replica then enforces the limit on its own. It is the zero value.
	FallbackLocal StoreErrorMode = iota
	// FailClosed refuses the request with 503 (problem.Unavailable) and Retry-After.
	FailClosed
	// InsecureFailOpen lets the request through unlimited: anyone who can make the store
	// fail, or wait for it to, has no rate limit.
	InsecureFailOpen
)

// Defaults of the circuit breaker in front of Config.Store.
const (
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = 5 * time.Second
	DefaultStoreTimeout     = 250 * time.Millisecond
)

// Config configures the middleware. Limiter is required.
type Config struct {
	// Limiter holds the limit (rate and burst) and makes the decisions when Store is
	// nil, or falls back for it (FallbackLocal). Required.
	Limiter *Limiter
	// Store keeps the limits, for example in Redis to share them between replicas; it is
	// asked with Limiter.Limit(). Nil means Limiter decides alone, in this process.
	Store Store
	// OnStoreError says what happens when Store returns an error or the circuit breaker
	// is open. The zero value is FallbackLocal.
	OnStoreError StoreErrorMode
	// StoreTimeout bounds each Store call; zero means DefaultStoreTimeout.
	StoreTimeout time.Duration
	// BreakerThreshold is the number of consecutive Store errors after which the store is
	// skipped for BreakerCooldown; zero means DefaultBreakerThreshold.
	BreakerThreshold int
	// BreakerCooldown is how long the store is skipped once the breaker opens; zero means
	// DefaultBreakerCooldown. After it, the next requests try the store again.
	BreakerCooldown time.Duration
	// Logger receives one message when the store starts failing and one when it
	// recovers; nil means discard.
	Logger *slog.Logger
	// Key returns the key a request is counted under (a principal, an OAuth client, a
	// tenant). Nil means the client address from Resolver. When Key returns false the
	// request is counted under its client address instead, so a request without a
	// principal is still limited, never waved through.
	Key func(*http.Request) (string, bool)
	// Resolver finds the client address. Nil means the TCP peer address, with no
	// forwarded header trusted.
	Resolver *Resolver
	// Cost returns what a request spends (an $export more than a read). Nil means 1.
	// A cost above the limiter's burst is always refused.
	Cost func(*http.Request) int
	// Policy names the policy in the RateLimit and RateLimit-Policy fields; empty means
	// "default". It is sent to clients: 1 to 64 characters from [A-Za-z0-9_.-].
	Policy string
	// Legacy adds X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
	// (seconds) for clients that read only those. False means they are not sent.
	Legacy bool
	// ErrorHandler answers refused requests with err wrapping ErrRateLimited, or
	// ErrStoreUnavailable under FailClosed; Retry-After is already set, and the RateLimit
	// fields for ErrRateLimited. Nil means problem.Write with problem.RateLimited (429),
	// or problem.Unavailable (503) for ErrStoreUnavailable.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Now is the clock; nil means the limiter's clock.
	Now func() time.Time
}

// Middleware limits the rate of requests per key. It is immutable and safe for
// concurrent use.
type Middleware struct {
	limiter  *Limiter
	key      func(*http.Request) (string, bool)
	resolver *Resolver
	cost     func(*http.Request) int
	policy   string // quoted sf-string
	policyF  string // the RateLimit-Policy value, precomputed
	legacy   bool
	legacyL  string
	onError  func(http.ResponseWriter, *http.Request, error)
	now      func() time.Time

	store     Store
	limit     Limit
	mode      StoreErrorMode
	timeout   time.Duration
	threshold int64
	cooldown  time.Duration
	logger    *slog.Logger
	fails     atomic.Int64 // consecutive store errors
	openUntil atomic.Int64 // Unix nanoseconds until which the breaker skips the store
	failing   atomic.Bool  // the store is failing and the operator has been told
}

// Decision is the outcome of [Middleware.Decide].
type Decision struct {
	Result
	// Fallback reports that the store failed and Config.Limiter decided (FallbackLocal),
	// or that the request was let through unlimited (InsecureFailOpen).
	Fallback bool
	// Unavailable reports that the store failed and the request must be refused with
	// 503 (FailClosed); Result is then zero.
	Unavailable bool
}

// New checks cfg and returns the middleware.
func New(cfg Config) (*Middleware, error) {
	if cfg.Limiter == nil {
		return nil, fmt.Errorf("ratelimit: Config.Limiter is required: %w", ErrInvalidConfig)
	}
	name := cfg.Policy
	if name == "" {
		name = "default"
	}
	if !validPolicyName(name) {
		return nil, fmt.Errorf("ratelimit: Config.Policy must be 1 to 64 characters from [A-Za-z0-9_.-]: %w", ErrInvalidConfig)
	}
	switch {
	case cfg.OnStoreError < FallbackLocal || cfg.OnStoreError > InsecureFailOpen:
		return nil, fmt.Errorf("ratelimit: unknown Config.OnStoreError %d: %w", cfg.OnStoreError, ErrInvalidConfig)
	case cfg.StoreTimeout < 0, cfg.BreakerThreshold < 0, cfg.BreakerCooldown < 0:
		return nil, fmt.Errorf("ratelimit: StoreTimeout, BreakerThreshold and BreakerCooldown must not be negative: %w", ErrInvalidConfig)
	}
	m := &Middleware{
		store:     cfg.Store,
		limit:     cfg.Limiter.Limit(),
		mode:      cfg.OnStoreError,
		timeout:   cfg.StoreTimeout,
		threshold: int64(cfg.BreakerThreshold),
		cooldown:  cfg.BreakerCooldown,
		logger:    cfg.Logger,
		limiter:   cfg.Limiter,
		key:       cfg.Key,
		resolver:  cfg.Resolver,
		cost:      cfg.Cost,
		policy:    `"` + name + `"`,
		legacy:    cfg.Legacy,
		onError:   cfg.ErrorHandler,
		now:       cfg.Now,
	}
	if m.resolver == nil {
		m.resolver, _ = NewResolver(ResolverConfig{})
	}
	if m.onError == nil {
		m.onError = func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, ErrStoreUnavailable) {
				problem.Write(w, r, problem.Unavailable)
				return
			}
			problem.Write(w, r, problem.RateLimited)
		}
	}
	if m.timeout == 0 {
		m.timeout = DefaultStoreTimeout
	}
	if m.threshold == 0 {
		m.threshold = DefaultBreakerThreshold
	}
	if m.cooldown == 0 {
		m.cooldown = DefaultBreakerCooldown
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = cfg.Limiter.now
	}
	m.policyF = m.policy + ";q=" + strconv.Itoa(cfg.Limiter.burst) + ";w=" + strconv.FormatInt(ceilSeconds(cfg.Limiter.Window()), 10)
	m.legacyL = strconv.Itoa(cfg.Limiter.burst)
	return m, nil
}

func validPolicyName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// KeyOf returns the key req is counted under: Config.Key's answer, or else "ip:" and
// the Key of the client address, or else "ip:unknown" when the peer is not an IP
// address (all such requests share one limit).
func (m *Middleware) KeyOf(req *http.Request) string {
	if m.key != nil {
		if k, ok := m.key(req); ok {
			return k
		}
	}
	if a, ok := m.resolver.Resolve(req); ok {
		return "ip:" + Key(a)
	}
	return "ip:unknown"
}

// Check decides req, spending its cost when allowed. It is Decide's Result: zero (not
// allowed) when the store failed under FailClosed, and allowed under InsecureFailOpen.
func (m *Middleware) Check(req *http.Request) Result {
	return m.Decide(req).Result
}

// Decide decides req, spending its cost when allowed, with Config.Store when set and
// Config.OnStoreError when the store fails or the circuit breaker is open. It never
// panics.
func (m *Middleware) Decide(req *http.Request) Decision {
	cost := 1
	if m.cost != nil {
		cost = m.cost(req)
	}
	key := m.KeyOf(req)
	now := m.now()
	if m.store == nil {
		return Decision{Result: m.limiter.AllowAt(key, cost, now)}
	}
	if now.UnixNano() >= m.openUntil.Load() {
		res, err := m.askStore(req.Context(), key, cost)
		if err == nil {
			m.fails.Store(0)
			if m.failing.Load() && m.failing.CompareAndSwap(true, false) {
				m.logger.LogAttrs(req.Context(), slog.LevelInfo, "ratelimit: store recovered")
			}
			return Decision{Result: res}
		}
		if m.fails.Add(1) >= m.threshold {
			m.openUntil.Store(now.Add(m.cooldown).UnixNano())
		}
		if m.failing.CompareAndSwap(false, true) {
			m.logger.LogAttrs(req.Context(), slog.LevelError, "ratelimit: store failed, applying OnStoreError until it recovers",
				slog.String("mode", m.mode.String()), logattr.Error(err))
		}
	}
	switch m.mode {
	case FailClosed:
		return Decision{Unavailable: true}
	case InsecureFailOpen:
		return Decision{Fallback: true, Result: Result{Allowed: true, Limit: m.limit.Burst}}
	default:
		return Decision{Fallback: true, Result: m.limiter.AllowAt(key, cost, now)}
	}
}

// askStore calls the store with a deadline, turning a panic into an error.
func (m *Middleware) askStore(ctx context.Context, key string, cost int) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ratelimit: store panicked (%T)", p) // the value may quote a key
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	return m.store.Allow(ctx, key, cost, m.limit)
}

// String returns the mode's Go name.
func (s StoreErrorMode) String() string {
	switch s {
	case FallbackLocal:
		return "FallbackLocal"
	case FailClosed:
		return "FailClosed"
	case InsecureFailOpen:
		return "InsecureFailOpen"
	}
	return "StoreErrorMode(" + strconv.Itoa(int(s)) + ")"
}

// Handler wraps next: it sets RateLimit-Policy and RateLimit (draft-ietf-httpapi-
// ratelimit-headers-10 §§4–5, structured-field lists) on every response, and refuses a
// request over the limit with Retry-After in whole seconds (rounded up) and the
// ErrorHandler's answer, recording "ratelimit.exceeded" in the audit event. No response
// carries the client address or the key.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := m.Decide(r)
		h := w.Header()
		if d.Unavailable {
			h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(m.cooldown), 1), 10))
			audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = RejectionStoreUnavailable })
			m.onError(w, r, ErrStoreUnavailable)
			return
		}
		if d.Fallback {
			note := "ratelimit.fallback"
			if m.mode == InsecureFailOpen {
				note = "ratelimit.fail-open"
			}
			audit.Annotate(r.Context(), func(e *audit.Event) { e.Notes = append(e.Notes, note) })
		}
		if d.Fallback && m.mode == InsecureFailOpen {
			next.ServeHTTP(w, r)
			return
		}
		res := d.Result
		h.Set("RateLimit-Policy", m.policyF)
		// t: the seconds until the quota is back. On a refusal it is the seconds until the
		// request could pass, so that Retry-After is never earlier than t (draft §5.2).
		reset := res.ResetAfter
		if !res.Allowed {
			reset = res.RetryAfter
			if reset < 0 {
				reset = m.limiter.Window()
			}
		}
		t := ceilSeconds(reset)
		h.Set("RateLimit", m.policy+";r="+strconv.Itoa(res.Remaining)+";t="+strconv.FormatInt(t, 10))
		if m.legacy {
			h.Set("X-RateLimit-Limit", m.legacyL)
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(t, 10))
		}
		if res.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		if t < 1 {
			t = 1
		}
		h.Set("Retry-After", strconv.FormatInt(t, 10))
		annotate(r.Context())
		m.onError(w, r, ErrRateLimited)
	})
}

func annotate(ctx context.Context) {
	audit.Annotate(ctx, func(e *audit.Event) { e.Rejection = RejectionRateLimited })
}

// ceilSeconds rounds d up to whole seconds, never below zero.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
