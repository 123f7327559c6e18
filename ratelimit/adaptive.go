package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/internal/respwriter"
	"github.com/phikit/phikit/problem"
)

// ErrOverloaded is the error [Concurrency.Handler] hands to ConcurrencyConfig.ErrorHandler
// when a request is shed because the concurrency limit is reached.
var ErrOverloaded = errors.New("ratelimit: concurrency limit reached")

// RejectionOverloaded is recorded in audit.Event.Rejection for a request shed by
// [Concurrency.Handler].
const RejectionOverloaded = "ratelimit.overloaded"

// Defaults of [ConcurrencyConfig].
const (
	DefaultInitialLimit       = 20
	DefaultMinLimit           = 4
	DefaultMaxLimit           = 200
	DefaultSampleWindow       = time.Second
	DefaultLatencyTolerance   = 2.0
	DefaultOverloadRetryAfter = time.Second
)

// Constants of the adjustment, documented on [Concurrency].
const (
	minWindowSamples = 10                        // samples a window needs before it adjusts the limit
	minBaseline      = float64(time.Millisecond) // latencies below this are taken as this
	maxBackoff       = 0.9                       // the smallest multiplicative decrease
	minBackoff       = 0.5                       // the largest multiplicative decrease
	dropShare        = 10                        // more than 1/dropShare of samples dropped is overload
	baselineRise     = 1.0 / 20                  // weight of a slower window in the baseline
	baselineFall     = 1.0 / 2                   // weight of a faster window in the baseline
)

// ConcurrencyConfig configures a [Concurrency] limiter. Every field is optional.
type ConcurrencyConfig struct {
	// InitialLimit is the number of requests allowed in flight at the start. Zero means
	// DefaultInitialLimit (20), moved into [MinLimit, MaxLimit]. It must lie between
	// MinLimit and MaxLimit.
	InitialLimit int
	// MinLimit is the floor the limit never goes below, however latency rises: the
	// concurrency you are content to serve under overload or attack. Zero means
	// DefaultMinLimit (4), or MaxLimit when that is smaller.
	MinLimit int
	// MaxLimit is the ceiling the limit never goes above, however fast the service is.
	// Zero means DefaultMaxLimit (200).
	MaxLimit int
	// SampleWindow is how long latency samples are gathered before the limit is adjusted
	// (a window also needs at least 10 samples). Zero means DefaultSampleWindow (1s).
	SampleWindow time.Duration
	// LatencyTolerance is how many times its long-term baseline a window's average
	// latency may reach before the window counts as overloaded. Zero means
	// DefaultLatencyTolerance (2.0); it must be at least 1.
	LatencyTolerance float64
	// RetryAfter is the Retry-After sent with a shed request, rounded up to whole
	// seconds. Zero means DefaultOverloadRetryAfter (1s).
	RetryAfter time.Duration
	// ErrorHandler answers a shed request with err wrapping ErrOverloaded; Retry-After is
	// already set. Nil means problem.Write with problem.Unavailable (503).
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives one warning when shedding starts, one message when it stops, and
	// each change of the limit at debug level; nil means discard. No line carries
	// anything from a request.
	Logger *slog.Logger
	// Now is the clock latency is measured on; nil means time.Now.
	Now func() time.Time
}

// Outcome is how a request held by a [Permit] ended, as the limiter counts it.
type Outcome int

const (
	// OutcomeSuccess gives a latency sample: the request was served, even if with a 4xx.
	OutcomeSuccess Outcome = iota
	// OutcomeDropped is a sign of overload: a 5xx, a timeout, a panic, a client that
	// gave up waiting. Dropped requests give no latency sample; when more than a tenth
	// of a window's samples are dropped, the limit is decreased.
	OutcomeDropped
	// OutcomeIgnored frees the slot and gives no sample, for a request whose latency
	// says nothing about load (a hijacked connection, a stream, a client that left at
	// once). Values other than these three count as OutcomeIgnored.
	OutcomeIgnored
)

// String returns the outcome's Go name.
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "OutcomeSuccess"
	case OutcomeDropped:
		return "OutcomeDropped"
	case OutcomeIgnored:
		return "OutcomeIgnored"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Concurrency limits the number of requests in flight, and adapts the limit to the
// latency it observes, so that a service sheds load (503 with Retry-After) before its
// queues grow and it falls over. It is safe for concurrent use.
//
// # Adjustment
//
// Each [Permit] released gives a sample: its latency, from Acquire to Release on
// ConcurrencyConfig.Now, or a drop (see [Outcome]). Samples are gathered in windows of
// SampleWindow and at least 10 samples; at the end of each window:
//
//   - The window is overloaded when its average latency exceeds LatencyTolerance times
//     the baseline (latencies below 1 ms count as 1 ms), or when more than a tenth of its
//     samples were dropped.
//   - An overloaded window decreases the limit multiplicatively, in proportion to the
//     excess (limit × tolerance × baseline / average), by a factor between 0.5 and 0.9;
//     0.9 for drops alone. A window overloaded by latency only decreases the limit when
//     the limit was in use: at some moment at least half of it was in flight, or a
//     request was shed (as in Netflix's Gradient2, a limit far above use is not what
//     slows the service).
//   - A window that is not overloaded, and in which the limit was in use, increases the
//     limit by its square root (at least 1).
//   - The limit stays within [MinLimit, MaxLimit].
//   - The baseline is a moving average of the windows' average latencies, which falls
//     fast (half the way to a faster window) and rises slowly (a twentieth of the way to
//     a slower one). A lasting rise in latency that shedding does not cure, such as a
//     slower dependency, thus becomes the new normal after some windows instead of
//     holding the limit at its floor.
//
// The first window sets the baseline. No goroutine runs: a window closes on the first
// Release after its end that finds it holds at least 10 samples.
//
// # Cost
//
// Acquire and Release are lock-free (atomic counters; a mutex is only tried, never
// waited on, by the one Release that closes a window) and do not allocate. Each reads
// the clock once.
//
// # Limits of the signal
//
// Latency runs from Acquire to Release, so in Handler it includes reading the request
// body and writing the response: clients that send or read slowly look like a slow
// service. Bound them with http.Server's ReadTimeout and WriteTimeout. Anyone who can
// make requests slow (an expensive search) or fail (a 5xx) can push the limit down, and
// so shed other callers' requests, though never below MinLimit: put per-client rate
// limits in front of it, and choose MinLimit as the concurrency the service must keep.
type Concurrency struct {
	inflight atomic.Int64
	limit    atomic.Int64 // the limit Acquire enforces: floor of limitF
	_        [48]byte     // keep the counters Acquire writes apart from those Release writes

	okCount    atomic.Int64 // samples of the window with OutcomeSuccess
	latencySum atomic.Int64 // their latencies, nanoseconds
	drops      atomic.Int64 // samples of the window with OutcomeDropped
	peak       atomic.Int64 // the most in flight during the window
	shed       atomic.Int64 // requests refused during the window
	windowEnd  atomic.Int64 // nanoseconds since epoch
	baselineNS atomic.Int64 // the baseline, for readers outside mu
	shedding   atomic.Bool  // shedding started and has been logged

	mu       sync.Mutex // held by the Release that closes a window
	limitF   float64
	baseline float64 // nanoseconds; 0 until the first window closes

	minLimit, maxLimit float64
	epoch              time.Time // the clock at NewConcurrency; windows are measured from it
	window             int64
	tolerance          float64
	retryAfter         string
	onError            func(http.ResponseWriter, *http.Request, error)
	logger             *slog.Logger
	now                func() time.Time
}

// NewConcurrency checks cfg and returns a limiter. It reads the clock once, to start the
// first window, and starts no goroutine.
func NewConcurrency(cfg ConcurrencyConfig) (*Concurrency, error) {
	switch {
	case cfg.InitialLimit < 0, cfg.MinLimit < 0, cfg.MaxLimit < 0:
		return nil, fmt.Errorf("ratelimit: InitialLimit, MinLimit and MaxLimit must not be negative: %w", ErrInvalidConfig)
	case cfg.SampleWindow < 0, cfg.RetryAfter < 0:
		return nil, fmt.Errorf("ratelimit: SampleWindow and RetryAfter must not be negative: %w", ErrInvalidConfig)
	case math.IsNaN(cfg.LatencyTolerance) || math.IsInf(cfg.LatencyTolerance, 0) ||
		(cfg.LatencyTolerance != 0 && cfg.LatencyTolerance < 1):
		return nil, fmt.Errorf("ratelimit: LatencyTolerance must be zero or a number of at least 1: %w", ErrInvalidConfig)
	}
	maxL := cfg.MaxLimit
	if maxL == 0 {
		maxL = DefaultMaxLimit
	}
	minL := cfg.MinLimit
	if minL == 0 {
		minL = min(DefaultMinLimit, maxL)
	}
	if minL > maxL {
		return nil, fmt.Errorf("ratelimit: MinLimit above MaxLimit: %w", ErrInvalidConfig)
	}
	initial := cfg.InitialLimit
	if initial == 0 {
		initial = max(minL, min(DefaultInitialLimit, maxL))
	}
	if initial < minL || initial > maxL {
		return nil, fmt.Errorf("ratelimit: InitialLimit must lie between MinLimit and MaxLimit: %w", ErrInvalidConfig)
	}
	c := &Concurrency{
		limitF:    float64(initial),
		minLimit:  float64(minL),
		maxLimit:  float64(maxL),
		window:    int64(cfg.SampleWindow),
		tolerance: cfg.LatencyTolerance,
		onError:   cfg.ErrorHandler,
		logger:    cfg.Logger,
		now:       cfg.Now,
	}
	if c.window == 0 {
		c.window = int64(DefaultSampleWindow)
	}
	if c.tolerance == 0 {
		c.tolerance = DefaultLatencyTolerance
	}
	retry := cfg.RetryAfter
	if retry == 0 {
		retry = DefaultOverloadRetryAfter
	}
	c.retryAfter = strconv.FormatInt(max(ceilSeconds(retry), 1), 10)
	if c.onError == nil {
		c.onError = func(w http.ResponseWriter, r *http.Request, _ error) {
			problem.Write(w, r, problem.Unavailable)
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.limit.Store(int64(initial))
	c.epoch = c.now()
	c.windowEnd.Store(c.window)
	return c, nil
}

// Limit returns the number of requests currently allowed in flight.
func (c *Concurrency) Limit() int { return int(c.limit.Load()) }

// InFlight returns the number of permits acquired and not yet released.
func (c *Concurrency) InFlight() int { return int(c.inflight.Load()) }

// Permit is a slot taken by [Concurrency.Acquire]. Release it exactly once, whatever
// happens (defer it); a permit that is never released holds its slot for good. The zero
// Permit, returned with false, releases nothing.
type Permit struct {
	c     *Concurrency
	start time.Time
}

// Acquire is AcquireAt with the limiter's clock.
func (c *Concurrency) Acquire() (Permit, bool) {
	return c.acquireAt(context.Background(), c.now())
}

// AcquireAt takes a slot if fewer than Limit requests are in flight, and reports whether
// it did. now starts the request's latency. It never blocks and does not allocate.
func (c *Concurrency) AcquireAt(now time.Time) (Permit, bool) {
	return c.acquireAt(context.Background(), now)
}

func (c *Concurrency) acquireAt(ctx context.Context, now time.Time) (Permit, bool) {
	for {
		n := c.inflight.Load()
		if n >= c.limit.Load() {
			c.shed.Add(1)
			if !c.shedding.Load() && c.shedding.CompareAndSwap(false, true) {
				c.logger.LogAttrs(ctx, slog.LevelWarn, "ratelimit: concurrency limit reached, shedding requests",
					slog.Int64("limit", c.limit.Load()))
			}
			return Permit{}, false
		}
		if c.inflight.CompareAndSwap(n, n+1) {
			n++
			for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
			}
			return Permit{c: c, start: now}, true
		}
	}
}

// Release is ReleaseAt with the limiter's clock.
func (p Permit) Release(o Outcome) {
	if p.c == nil {
		return
	}
	p.c.releaseAt(context.Background(), p.start, p.c.now(), o)
}

// ReleaseAt frees the slot; o says how the request ended, and now ends its latency. It
// does not allocate. Releasing the zero Permit does nothing.
func (p Permit) ReleaseAt(now time.Time, o Outcome) {
	if p.c == nil {
		return
	}
	p.c.releaseAt(context.Background(), p.start, now, o)
}

func (c *Concurrency) releaseAt(ctx context.Context, start, now time.Time, o Outcome) {
	if c.inflight.Add(-1) < 0 {
		c.inflight.Add(1) // a permit released twice: do not let the limit grow by it
	}
	switch o {
	case OutcomeSuccess:
		c.latencySum.Add(int64(max(now.Sub(start), 0)))
		c.okCount.Add(1)
	case OutcomeDropped:
		c.drops.Add(1)
	default:
		return
	}
	t := int64(now.Sub(c.epoch)) // monotonic when both readings have it: wall-clock steps do not move windows
	if t >= c.windowEnd.Load() && c.okCount.Load()+c.drops.Load() >= minWindowSamples && c.mu.TryLock() {
		c.closeWindow(ctx, t)
		c.mu.Unlock()
	}
}

// closeWindow adjusts the limit from the window's samples and starts the next window;
// c.mu is held.
func (c *Concurrency) closeWindow(ctx context.Context, now int64) {
	if now < c.windowEnd.Load() || c.okCount.Load()+c.drops.Load() < minWindowSamples {
		return // another Release closed it first
	}
	okN := c.okCount.Swap(0)
	sum := c.latencySum.Swap(0)
	drops := c.drops.Swap(0)
	shed := c.shed.Swap(0)
	peak := c.peak.Swap(c.inflight.Load())
	c.windowEnd.Store(now + c.window)

	old := c.limitF
	inUse := float64(peak)*2 >= old || shed > 0
	factor := 1.0 // below 1: overloaded by latency
	var avg float64
	if okN > 0 {
		avg = float64(sum) / float64(okN)
		if c.baseline > 0 {
			if bound := c.tolerance * max(c.baseline, minBaseline); avg > bound {
				factor = min(max(bound/avg, minBackoff), maxBackoff)
			}
		}
	}
	limit := old
	switch {
	case drops*dropShare > okN+drops:
		limit *= min(factor, maxBackoff)
	case factor < 1 && inUse:
		limit *= factor
	case factor == 1 && inUse:
		limit += max(1, math.Sqrt(limit))
	}
	limit = min(max(limit, c.minLimit), c.maxLimit)
	c.limitF = limit
	c.limit.Store(int64(limit))

	if okN > 0 {
		switch {
		case c.baseline == 0:
			c.baseline = max(avg, 1)
		case avg < c.baseline:
			c.baseline += (avg - c.baseline) * baselineFall
		default:
			c.baseline += (avg - c.baseline) * baselineRise
		}
		c.baselineNS.Store(int64(c.baseline))
	}

	if int64(old) != int64(limit) {
		c.logger.LogAttrs(ctx, slog.LevelDebug, "ratelimit: concurrency limit adjusted",
			slog.Int64("from", int64(old)), slog.Int64("to", int64(limit)),
			slog.Duration("latency", time.Duration(avg)), slog.Duration("baseline", time.Duration(c.baseline)),
			slog.Int64("dropped", drops), slog.Int64("shed", shed))
	}
	if shed == 0 && c.shedding.Load() && c.shedding.CompareAndSwap(true, false) {
		c.logger.LogAttrs(ctx, slog.LevelInfo, "ratelimit: concurrency limit no longer reached, shedding stopped",
			slog.Int64("limit", int64(limit)))
	}
}

// Handler wraps next: a request beyond the limit is shed with Retry-After and the
// ErrorHandler's answer (503, problem.Unavailable, by default), recording
// "ratelimit.overloaded" in its audit event; the others hold a slot while next serves
// them. The slot is released however next ends, a panic included (which goes on up
// once the slot is free), with the outcome:
//
//   - OutcomeIgnored for a hijacked connection, and for a request whose client went
//     away (context canceled) sooner than LatencyTolerance times the baseline latency,
//     so that clients cannot shrink the limit by hanging up at once;
//   - OutcomeDropped for a 5xx, a panic, a context deadline exceeded, or a client that
//     went away after waiting longer than that;
//   - OutcomeSuccess otherwise.
//
// next gets a wrapper of the ResponseWriter (to see the status) that keeps Flush,
// Hijack and http.ResponseController working; it is the one allocation per request.
func (c *Concurrency) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, ok := c.acquireAt(ctx, c.now())
		if !ok {
			w.Header().Set("Retry-After", c.retryAfter)
			audit.Annotate(ctx, annotateOverloaded)
			c.onError(w, r, ErrOverloaded)
			return
		}
		rw := respwriter.New(w)
		done := false
		defer func() {
			if !done { // next panicked, or called runtime.Goexit
				c.releaseAt(ctx, p.start, c.now(), OutcomeDropped)
			}
		}()
		next.ServeHTTP(rw, r)
		done = true
		now := c.now()
		c.releaseAt(ctx, p.start, now, c.outcome(rw, ctx.Err(), now.Sub(p.start)))
	})
}

func annotateOverloaded(e *audit.Event) { e.Rejection = RejectionOverloaded }

// outcome classifies a request that next served in latency.
func (c *Concurrency) outcome(rw *respwriter.Writer, ctxErr error, latency time.Duration) Outcome {
	switch {
	case rw.Hijacked():
		return OutcomeIgnored
	case rw.Status() >= 500:
		return OutcomeDropped
	case ctxErr == nil:
		return OutcomeSuccess
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return OutcomeDropped
	}
	if float64(latency) > c.tolerance*max(float64(c.baselineNS.Load()), minBaseline) {
		return OutcomeDropped
	}
	return OutcomeIgnored
}
