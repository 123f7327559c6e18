// Package reqid carries a request's correlation ids in its context. It is shared plumbing
// between the root package (which sets the ids) and the packages that read them (problem,
// audit) without those packages importing the root.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

// IDs are the correlation ids of one request.
type IDs struct {
	// RequestID identifies this request: the trace id and this server's span id joined by
	// a hyphen (32 + 1 + 16 lowercase hex characters).
	RequestID string
	// TraceID is the W3C trace id: the caller's when it sent a valid traceparent, else a
	// fresh random one.
	TraceID string
	// SpanID is a fresh random span id for this server's handling of the request.
	SpanID string
	// ParentID is the caller's span id from a valid traceparent; empty otherwise.
	ParentID string
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying ids.
func NewContext(ctx context.Context, ids *IDs) context.Context {
	return context.WithValue(ctx, ctxKey{}, ids)
}

// FromContext returns the ids stored in ctx by NewContext.
func FromContext(ctx context.Context) (*IDs, bool) {
	ids, ok := ctx.Value(ctxKey{}).(*IDs)
	return ids, ok
}

// RequestID returns the request id in ctx, or "" when there is none.
func RequestID(ctx context.Context) string {
	if ids, ok := FromContext(ctx); ok {
		return ids.RequestID
	}
	return ""
}

// New returns ids for a request that carried the traceparent header values h (as found
// in http.Header). A valid traceparent keeps its trace id and becomes the parent; anything
// else (absent, malformed, repeated) is ignored and a fresh trace id is drawn.
func New(h []string) *IDs {
	var raw [24]byte // 16 bytes trace id, 8 bytes span id
	rand.Read(raw[:])
	var buf [49]byte
	ids := &IDs{}
	if len(h) == 1 {
		if trace, parent, ok := parseTraceparent(h[0]); ok {
			copy(buf[:32], trace)
			ids.ParentID = parent
		}
	}
	if ids.ParentID == "" {
		hex.Encode(buf[:32], raw[:16])
	}
	buf[32] = '-'
	hex.Encode(buf[33:], raw[16:])
	ids.RequestID = string(buf[:])
	ids.TraceID = ids.RequestID[:32]
	ids.SpanID = ids.RequestID[33:]
	return ids
}

// parseTraceparent validates a W3C Trace Context traceparent header
// (https://www.w3.org/TR/trace-context/#traceparent-header) and returns its trace id and
// parent id. Version ff, all-zero ids, upper-case hex and wrong lengths are invalid. A
// version above 00 may carry more fields after a hyphen, which are ignored.
func parseTraceparent(s string) (trace, parent string, ok bool) {
	const n = 55 // "00-" + 32 + "-" + 16 + "-" + 2
	if len(s) < n || (len(s) > n && s[n] != '-') {
		return "", "", false
	}
	if s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return "", "", false
	}
	version, trace, parent, flags := s[:2], s[3:35], s[36:52], s[53:55]
	if !lowerHex(version) || version == "ff" || (version == "00" && len(s) != n) {
		return "", "", false
	}
	if !lowerHex(trace) || !lowerHex(parent) || !lowerHex(flags) || allZero(trace) || allZero(parent) {
		return "", "", false
	}
	return trace, parent, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
