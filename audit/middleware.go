package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/reqid"
	"github.com/phikit/phikit/problem"
)

// Config configures the audit Middleware.
type Config struct {
	// Sink receives one event per request. Required. To write to several places, use a
	// FanOut.
	Sink Sink
	// Service names this service in every event's Source. Empty means it is left out.
	Service string
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages (a failing sink, a recovered panic's type and
	// stack); never an event's contents. Nil means they are discarded.
	Logger *slog.Logger
	// ErrorHandler answers the requests the middleware itself must answer: err is
	// ErrUnavailable (the audit trail is failing: the default answer is a 503 problem) or
	// ErrPanic (the handler panicked before writing: the default is a 500 problem). Nil
	// means those defaults, written by the problem package.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware opens an audit record for each request, puts it in the request context for
// Annotate, and emits exactly one Event to the sink when the response is done — whether
// the handler returned normally, wrote nothing, wrote twice, hijacked the connection,
// panicked, or the client went away.
//
// # Failing closed
//
// The event is written synchronously, after the handler returns and before net/http
// completes the response. When the sink fails (returns an error or panics), the failure
// is logged and:
//
//   - the request is answered 503 (ErrUnavailable) if its handler had written nothing;
//   - if the handler had written, the middleware panics with http.ErrAbortHandler, so
//     net/http drops the connection without sending what it still holds back, and the
//     client sees a failure instead of an unaudited answer (a large response may have
//     been partly sent already; it arrives truncated);
//   - from then on every request is refused with ErrUnavailable (503) before its handler
//     runs, until a refused request's own event is written successfully: the trail
//     recovers by itself.
//
// A sink that blocks holds up the requests waiting on it.
//
// # Panics
//
// A handler panic is recorded with OutcomeMajorFailure. If the handler had written
// nothing, the middleware answers 500 (ErrPanic) and the panic stops here; if the
// response had already started, the event keeps the status sent and the middleware
// re-panics with http.ErrAbortHandler so that net/http aborts the connection and the
// client cannot mistake a truncated response for a complete one. The panic value is never logged (it may carry PHI): Logger gets its
// type and the stack. A panic with http.ErrAbortHandler is passed on as is.
//
// A Middleware is safe for concurrent use.
type Middleware struct {
	sink    Sink
	service string
	now     func() time.Time
	logger  *slog.Logger
	onError func(w http.ResponseWriter, r *http.Request, err error)
	failing atomic.Bool
}

// New returns a Middleware for cfg.
func New(cfg Config) (*Middleware, error) {
	if cfg.Sink == nil {
		return nil, errors.New("audit: Config.Sink is required")
	}
	m := &Middleware{
		sink:    cfg.Sink,
		service: cfg.Service,
		now:     cfg.Now,
		logger:  loggerOrDiscard(cfg.Logger),
		onError: cfg.ErrorHandler,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.onError == nil {
		m.onError = defaultErrorHandler
	}
	return m, nil
}

func defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set("Retry-After", "1")
		problem.Write(w, r, problem.Unavailable)
		return
	}
	problem.Write(w, r, problem.Internal)
}

// Handler wraps next so that each request it serves is audited.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("audit: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(w, r, next)
	})
}

func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, next http.Handler) {
	start := m.now()
	ctx := r.Context()
	ids, ok := reqid.FromContext(ctx)
	if !ok { // no RequestID middleware outside: every event still gets an id
		ids = reqid.New(r.Header.Values("Traceparent"))
		ctx = reqid.NewContext(ctx, ids)
	}
	rec := &record{}
	rec.rw.Reset(w)
	rec.ev = Event{
		RequestID: ids.RequestID,
		TraceID:   ids.TraceID,
		SpanID:    ids.SpanID,
		Action:    ActionForMethod(r.Method),
		Method:    r.Method,
		Path:      r.URL.Path,
		Agent:     Agent{Address: remoteIP(r.RemoteAddr)},
		Source:    Source{Service: m.service},
	}
	rec.ev.Entities = rec.entities[:0]
	r = r.WithContext(context.WithValue(ctx, ctxKey{}, rec))

	refused := m.failing.Load()
	panicked, v := m.run(rec, r, next, refused)
	started := rec.rw.Written() // by the handler, or by the refusal
	if panicked && v != http.ErrAbortHandler {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "audit: handler panicked",
			slog.String("request_id", rec.ev.RequestID),
			slog.String("panic_type", fmt.Sprintf("%T", v)),
			slog.String("stack", string(debug.Stack())))
		if !started {
			m.answer(rec, r, ErrPanic)
		}
	}
	recorded := m.finish(rec, r, start, panicked)
	switch {
	case rec.rw.Hijacked():
		// The connection is the handler's: nothing more can be said on it.
	case panicked && (started || v == http.ErrAbortHandler):
		// The response had started (or the handler chose to abort): abort the connection
		// so that the client cannot take a truncated response for a complete one.
		panic(http.ErrAbortHandler)
	case !recorded && started && !refused:
		// The event could not be recorded and the handler's response has started: abort,
		// so that what net/http still holds back is never sent and the client sees a
		// failure rather than an unaudited answer.
		panic(http.ErrAbortHandler)
	case !recorded && !rec.rw.Written():
		m.answer(rec, r, ErrUnavailable)
	}
}

// run serves the request, or refuses it when refused is set, and reports whether that
// panicked, with the value.
func (m *Middleware) run(rec *record, r *http.Request, next http.Handler, refused bool) (panicked bool, v any) {
	panicked = true
	defer func() {
		if panicked {
			v = recover()
		}
	}()
	if refused {
		rec.ev.Rejection = "audit.unavailable"
		m.onError(&rec.rw, r, ErrUnavailable)
	} else {
		next.ServeHTTP(&rec.rw, r)
	}
	return false, nil
}

// answer has the ErrorHandler answer the request, containing a panic of its own: the
// event must still be emitted.
func (m *Middleware) answer(rec *record, r *http.Request, err error) {
	defer func() {
		if v := recover(); v != nil {
			m.logger.LogAttrs(r.Context(), slog.LevelError, "audit: ErrorHandler panicked",
				slog.String("request_id", rec.ev.RequestID), slog.String("panic_type", fmt.Sprintf("%T", v)))
		}
	}()
	m.onError(&rec.rw, r, err)
}

// finish completes the event from what the response writer saw and emits it. It reports
// whether the sink accepted the event; when it did not, the middleware is failing until a
// later event is accepted.
func (m *Middleware) finish(rec *record, r *http.Request, start time.Time, panicked bool) bool {
	end := m.now()
	clientGone := r.Context().Err() != nil
	rec.mu.Lock()
	ev := &rec.ev
	ev.Time = end.UTC()
	ev.Latency = end.Sub(start)
	if ev.Route == "" {
		ev.Route = r.Pattern
	}
	ev.Bytes = rec.rw.Bytes()
	ev.ClientGone = clientGone
	switch {
	case rec.rw.Written():
		ev.Status = rec.rw.Status()
		ev.Outcome = outcomeForStatus(ev.Status)
	case clientGone:
		ev.Status = 499
		ev.Outcome = OutcomeMinorFailure
	case panicked: // aborted before anything was written: the client gets no response
		ev.Status = http.StatusInternalServerError
	default: // the handler wrote nothing: net/http sends 200 with an empty body
		ev.Status = http.StatusOK
		ev.Outcome = OutcomeSuccess
	}
	if panicked {
		ev.Outcome = OutcomeMajorFailure
	}
	rec.done = true
	rec.mu.Unlock()

	// The record is done: no one mutates ev any more, so the sink reads it unlocked.
	rec.sinkCtx.parent = r.Context()
	err := m.write(&rec.sinkCtx, ev)
	if err == nil {
		if m.failing.Load() {
			m.failing.Store(false)
			m.logger.LogAttrs(r.Context(), slog.LevelWarn, "audit: sink recovered; serving requests again")
		}
		return true
	}
	if !m.failing.Swap(true) {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "audit: sink failed; refusing requests until it recovers",
			slog.String("request_id", ev.RequestID), logattr.Error(err))
	}
	return false
}

// write hands ev to the sink, turning a panicking sink into a failed one.
func (m *Middleware) write(ctx context.Context, ev *Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: sink panicked (%T)", ErrSinkFailed, v)
		}
	}()
	return m.sink.Write(ctx, ev)
}

// remoteIP returns the host part of a RemoteAddr ("ip:port"), or addr itself when it has
// no port.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}
