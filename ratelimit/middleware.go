package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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

// ErrQuotaExceeded is the error the middleware hands to Config.ErrorHandler when a quota
// refused a request. It wraps ErrRateLimited.
var ErrQuotaExceeded = fmt.Errorf("ratelimit: quota exceeded: %w", ErrRateLimited)

// RejectionQuotaExceeded is recorded in audit.Event.Rejection for a request a quota
// refused.
const RejectionQuotaExceeded = "ratelimit.quota-exceeded"

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
	// Cost returns what a request spends (an $export more than a read; see RouteCosts).
	// Nil means 1. A cost above the limiter's burst is always refused.
	Cost func(*http.Request) int
	// Quotas are allowances per calendar day or month, counted under the same key and
	// cost as the rate limit, after it: a request must pass the rate limit and then
	// every quota, daily ones first. Nil means none.
	Quotas []Quota
	// QuotaStore keeps the quota counters. Nil means a MemoryQuotaStore in this process,
	// which is allowed only without Store: with Store set the replicas share the rate
	// limit, and a quota per process would silently multiply by their number. Its errors
	// are handled as Store's (OnStoreError, the same circuit breaker); under
	// FallbackLocal a MemoryQuotaStore in this process counts while it fails.
	QuotaStore QuotaStore
	// Location is where quota days and months begin. Nil means UTC.
	Location *time.Location
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
	quotas    []Quota
	qstore    QuotaStore
	qlocal    *MemoryQuotaStore // the fallback for qstore; qstore itself when none is configured
	loc       *time.Location
	fails     atomic.Int64 // consecutive store errors
	openUntil atomic.Int64 // Unix nanoseconds until which the breaker skips the store
	failing   atomic.Bool  // the store is failing and the operator has been told
}

// Decision is the outcome of [Middleware.Decide].
type Decision struct {
	// Result is the rate limit's, except that when a quota refused the request, Allowed
	// is false and RetryAfter is the time until that quota's window ends.
	Result
	// Quotas has the outcome of each of Config.Quotas, in order, once the rate limit
	// allowed the request; it stops at the first quota that refused it (later ones are
	// not spent).
	Quotas []QuotaResult
	// QuotaExceeded reports that a quota, the last in Quotas, refused the request.
	QuotaExceeded bool
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
	names := map[string]bool{name: true}
	for i, q := range cfg.Quotas {
		switch {
		case !validPolicyName(q.Name) || names[q.Name]:
			return nil, fmt.Errorf("ratelimit: Quotas[%d].Name must be 1 to 64 characters from [A-Za-z0-9_.-], distinct from the others and from Policy: %w", i, ErrInvalidConfig)
		case q.Limit < 1:
			return nil, fmt.Errorf("ratelimit: Quotas[%d].Limit must be positive: %w", i, ErrInvalidConfig)
		case q.Period != Day && q.Period != Month:
			return nil, fmt.Errorf("ratelimit: Quotas[%d].Period must be Day or Month: %w", i, ErrInvalidConfig)
		}
		names[q.Name] = true
	}
	if len(cfg.Quotas) > 0 && cfg.Store != nil && cfg.QuotaStore == nil {
		return nil, fmt.Errorf("ratelimit: Config.QuotaStore is required with Config.Store, or each replica would grant the whole quota: %w", ErrInvalidConfig)
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
		quotas:    slices.Clone(cfg.Quotas),
		qstore:    cfg.QuotaStore,
		loc:       cfg.Location,
	}
	if m.loc == nil {
		m.loc = time.UTC
	}
	// Days before months: a request a monthly quota refuses has then spent from the
	// daily one, which is harmless, as that day ends before the month does.
	slices.SortStableFunc(m.quotas, func(a, b Quota) int { return int(a.Period - b.Period) })
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
	if len(m.quotas) > 0 {
		m.qlocal, _ = NewMemoryQuotaStore(MemoryQuotaStoreConfig{Now: m.now})
		if m.qstore == nil {
			m.qstore = m.qlocal
		}
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
// the Key of the client address, or else "ip:unknown" when Resolver cannot read the
// peer (RemoteAddr not "ip:port"; all such requests share one limit).
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

// Decide decides req, spending its cost when allowed: the rate limit, with Config.Store
// when set, and then each quota. When a store fails or the circuit breaker is open,
// Config.OnStoreError decides. It never panics.
func (m *Middleware) Decide(req *http.Request) Decision {
	return m.decide(req, m.now())
}

// decide is Decide at now.
func (m *Middleware) decide(req *http.Request, now time.Time) Decision {
	cost := 1
	if m.cost != nil {
		cost = m.cost(req)
	}
	key := m.KeyOf(req)
	ctx := req.Context()
	var d Decision
	if m.store == nil {
		d.Result = m.limiter.AllowAt(key, cost, now)
	} else if err := m.callStore(ctx, now, func(ctx context.Context) (err error) {
		d.Result, err = m.store.Allow(ctx, key, cost, m.limit)
		return err
	}); err != nil {
		switch m.mode {
		case FailClosed:
			return Decision{Unavailable: true}
		case InsecureFailOpen:
			return Decision{Fallback: true, Result: Result{Allowed: true, Limit: m.limit.Burst}}
		}
		d = Decision{Fallback: true, Result: m.limiter.AllowAt(key, cost, now)}
	}
	if !d.Allowed || len(m.quotas) == 0 {
		return d
	}
	d.Quotas = make([]QuotaResult, 0, len(m.quotas))
	local := now.In(m.loc)
	for _, q := range m.quotas {
		start, end := q.Period.window(local)
		qkey := "quota:" + q.Name + ":" + q.Period.id(start) + ":" + key
		var count int64
		var ok bool
		spend := func(ctx context.Context, s QuotaStore) (err error) {
			count, ok, err = s.Spend(ctx, qkey, int64(cost), q.Limit, end)
			return err
		}
		var err error
		if m.qstore == m.qlocal {
			err = spend(ctx, m.qlocal)
		} else if err = m.callStore(ctx, now, func(ctx context.Context) error { return spend(ctx, m.qstore) }); err != nil {
			switch m.mode {
			case FailClosed:
				return Decision{Unavailable: true}
			case InsecureFailOpen:
				d.Fallback = true
				continue
			}
			d.Fallback = true
			err = spend(ctx, m.qlocal)
		}
		if err != nil { // the local counters are full
			return Decision{Unavailable: true}
		}
		qr := QuotaResult{Name: q.Name, Allowed: ok, Limit: q.Limit, Remaining: max(q.Limit-count, 0),
			ResetAfter: end.Sub(now), Window: end.Sub(start)}
		d.Quotas = append(d.Quotas, qr)
		if !ok {
			d.Allowed, d.RetryAfter, d.QuotaExceeded = false, qr.ResetAfter, true
			return d
		}
	}
	return d
}

// callStore calls a store through the circuit breaker, with a deadline, turning a panic
// into an error. It returns an error without calling when the breaker is open, and
// tells the operator when the store starts failing and when it recovers.
func (m *Middleware) callStore(ctx context.Context, now time.Time, call func(context.Context) error) error {
	if now.UnixNano() < m.openUntil.Load() {
		return errBreakerOpen
	}
	err := m.guard(ctx, call)
	if err == nil {
		m.fails.Store(0)
		if m.failing.Load() && m.failing.CompareAndSwap(true, false) {
			m.logger.LogAttrs(ctx, slog.LevelInfo, "ratelimit: store recovered")
		}
		return nil
	}
	if m.fails.Add(1) >= m.threshold {
		m.openUntil.Store(now.Add(m.cooldown).UnixNano())
	}
	if m.failing.CompareAndSwap(false, true) {
		m.logger.LogAttrs(ctx, slog.LevelError, "ratelimit: store failed, applying OnStoreError until it recovers",
			slog.String("mode", m.mode.String()), logattr.Error(err))
	}
	return err
}

var errBreakerOpen = errors.New("ratelimit: circuit breaker open")

// guard runs call with a deadline, turning a panic into an error.
func (m *Middleware) guard(ctx context.Context, call func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ratelimit: store panicked (%T)", p) // the value may quote a key
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	return call(ctx)
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

// Handler wraps next: it adds RateLimit-Policy and RateLimit (draft-ietf-httpapi-
// ratelimit-headers-10 §§4–5, structured-field lists) on every response, and refuses a
// request over the limit with Retry-After in whole seconds (rounded up) and the
// ErrorHandler's answer, recording "ratelimit.exceeded" in the audit event. No response
// carries the client address or the key.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := m.now()
		d := m.decide(r, now)
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
		// t: the seconds until the quota is back. On a refusal it is the seconds until the
		// request could pass, so that Retry-After is never earlier than t (draft §5.2).
		reset := res.ResetAfter
		if !res.Allowed && !d.QuotaExceeded {
			reset = res.RetryAfter
			if reset < 0 {
				reset = m.limiter.Window()
			}
		}
		t := ceilSeconds(reset)
		field := m.policy + ";r=" + strconv.Itoa(res.Remaining) + ";t=" + strconv.FormatInt(t, 10)
		policy := m.policyF
		if len(m.quotas) > 0 {
			field, policy = m.quotaFields(d, field, now)
		}
		// Added, not set: the fields of another limiter in the chain (per address, then
		// per user) stay, each its own field line of one list.
		h.Add("RateLimit-Policy", policy)
		h.Add("RateLimit", field)
		if m.legacy {
			h.Set("X-RateLimit-Limit", m.legacyL)
			h.Set("X-RateLimit-Remaining", strconv.Itoa(res.Remaining))
			h.Set("X-RateLimit-Reset", strconv.FormatInt(t, 10))
		}
		if res.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		err, rejection := ErrRateLimited, RejectionRateLimited
		if d.QuotaExceeded {
			t, err, rejection = ceilSeconds(res.RetryAfter), ErrQuotaExceeded, RejectionQuotaExceeded
		}
		h.Set("Retry-After", strconv.FormatInt(max(t, 1), 10))
		audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = rejection })
		m.onError(w, r, err)
	})
}

// quotaFields appends the quotas' items to the RateLimit field and returns it with the
// RateLimit-Policy field: every quota's policy, and the items of the quotas decided.
// now is the time d was decided at, so that both fields speak of the same windows.
func (m *Middleware) quotaFields(d Decision, field string, now time.Time) (string, string) {
	policy := m.policyF
	local := now.In(m.loc)
	for _, q := range m.quotas {
		start, end := q.Period.window(local)
		policy += `, "` + q.Name + `";q=` + strconv.FormatInt(q.Limit, 10) + ";w=" + strconv.FormatInt(ceilSeconds(end.Sub(start)), 10)
	}
	for _, q := range d.Quotas {
		field += `, "` + q.Name + `";r=` + strconv.FormatInt(q.Remaining, 10) + ";t=" + strconv.FormatInt(ceilSeconds(q.ResetAfter), 10)
	}
	return field, policy
}

// ceilSeconds rounds d up to whole seconds, never below zero.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
