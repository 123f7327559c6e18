package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/problem"
)

// ErrRateLimited is the error the middleware hands to Config.ErrorHandler when a request
// is refused.
var ErrRateLimited = errors.New("ratelimit: rate limit exceeded")

// RejectionRateLimited is recorded in audit.Event.Rejection for a refused request.
const RejectionRateLimited = "ratelimit.exceeded"

// Config configures the middleware. Limiter is required.
type Config struct {
	// Limiter makes the decisions. Required.
	Limiter *Limiter
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
	// ErrorHandler answers refused requests with err wrapping ErrRateLimited; the
	// RateLimit fields and Retry-After are already set. Nil means problem.Write with
	// problem.RateLimited (429).
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
	m := &Middleware{
		limiter:  cfg.Limiter,
		key:      cfg.Key,
		resolver: cfg.Resolver,
		cost:     cfg.Cost,
		policy:   `"` + name + `"`,
		legacy:   cfg.Legacy,
		onError:  cfg.ErrorHandler,
		now:      cfg.Now,
	}
	if m.resolver == nil {
		m.resolver, _ = NewResolver(ResolverConfig{})
	}
	if m.onError == nil {
		m.onError = func(w http.ResponseWriter, r *http.Request, _ error) {
			problem.Write(w, r, problem.RateLimited)
		}
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

// Check decides req, spending its cost when allowed.
func (m *Middleware) Check(req *http.Request) Result {
	cost := 1
	if m.cost != nil {
		cost = m.cost(req)
	}
	return m.limiter.AllowAt(m.KeyOf(req), cost, m.now())
}

// Handler wraps next: it sets RateLimit-Policy and RateLimit (draft-ietf-httpapi-
// ratelimit-headers-10 §§4–5, structured-field lists) on every response, and refuses a
// request over the limit with Retry-After in whole seconds (rounded up) and the
// ErrorHandler's answer, recording "ratelimit.exceeded" in the audit event. No response
// carries the client address or the key.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := m.Check(r)
		h := w.Header()
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
