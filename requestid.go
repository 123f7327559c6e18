package phikit

import (
	"context"
	"net/http"

	"github.com/phikit/phikit/internal/reqid"
)

// RequestIDHeader is the response header that carries the request id.
const RequestIDHeader = "X-Request-Id"

// RequestID gives every request an id, puts it in the request context (read it with
// RequestIDFromContext or TraceIDFromContext) and in the X-Request-Id response header.
//
// The id is a W3C trace id and a fresh random span id for this server, joined by a hyphen:
// "4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8". When the request carries exactly one
// valid traceparent header, its trace id is kept so that the id matches the caller's
// trace; otherwise (no header, a malformed one, several) a random trace id is drawn. The
// span id is always drawn here, so two requests never share an id even within one trace.
// Randomness comes from crypto/rand. A client-supplied X-Request-Id is ignored.
func RequestID(next http.Handler) http.Handler {
	if next == nil {
		panic("phikit: RequestID: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ids := reqid.New(r.Header.Values("Traceparent"))
		w.Header()[RequestIDHeader] = []string{ids.RequestID}
		next.ServeHTTP(w, r.WithContext(reqid.NewContext(r.Context(), ids)))
	})
}

// RequestIDFromContext returns the id RequestID gave the request whose context is ctx.
func RequestIDFromContext(ctx context.Context) (string, bool) {
	ids, ok := reqid.FromContext(ctx)
	if !ok {
		return "", false
	}
	return ids.RequestID, true
}

// TraceIDFromContext returns the W3C trace id of the request whose context is ctx: the
// caller's when it sent a valid traceparent, else the one RequestID drew.
func TraceIDFromContext(ctx context.Context) (string, bool) {
	ids, ok := reqid.FromContext(ctx)
	if !ok {
		return "", false
	}
	return ids.TraceID, true
}
