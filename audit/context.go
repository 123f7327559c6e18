package audit

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/phikit/phikit/internal/respwriter"
)

// record is the state of one request's audit event. It lives in the request context from
// the moment the middleware opens it until the event is emitted.
type record struct {
	mu   sync.Mutex
	done bool // the event has been handed to the sink; later annotations are dropped
	ev   Event
	rw   respwriter.Writer // the request's response writer, kept here to save an allocation

	// entities backs ev.Entities for the first few entities, and sinkCtx is the context
	// handed to the sink; both live here to save allocations.
	entities [2]Entity
	sinkCtx  detachedContext
}

// detachedContext carries its parent's values but never its cancellation or deadline:
// an event must be written even when the client has gone away.
type detachedContext struct{ parent context.Context }

func (detachedContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (detachedContext) Done() <-chan struct{}       { return nil }
func (detachedContext) Err() error                  { return nil }
func (c *detachedContext) Value(key any) any        { return c.parent.Value(key) }

type ctxKey struct{}

// Annotate runs f on the audit event of the request whose context is ctx, under a lock, so
// it is safe to call from any goroutine the request starts. It does nothing when no audit
// middleware runs for ctx or when the event has already been emitted. f must not retain
// the *Event or call Annotate itself.
//
//	audit.Annotate(r.Context(), func(e *audit.Event) {
//		e.AddPatient(id)
//		e.AddResource("Patient", id)
//	})
func Annotate(ctx context.Context, f func(*Event)) {
	rec, ok := ctx.Value(ctxKey{}).(*record)
	if !ok {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !rec.done {
		f(&rec.ev)
	}
}

// RecordRoute wraps an http.ServeMux (or any handler that sets Request.Pattern) so that
// the matched route pattern is recorded in Event.Route. The audit middleware reads the
// pattern itself when the mux sits directly inside it; other middleware in between (which
// hands the mux a copy of the request) hides it, so wrap the mux:
//
//	phikit.Chain(phikit.RequestID, aud.Handler, authn.Handler)(audit.RecordRoute(mux))
func RecordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer Annotate(r.Context(), func(e *Event) { e.Route = r.Pattern })
		next.ServeHTTP(w, r)
	})
}
