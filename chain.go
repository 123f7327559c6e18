package phikit

import (
	"fmt"
	"net/http"
)

// Chain composes middleware into one. The first argument is the outermost: it sees the
// request first and the response last, so
//
//	phikit.Chain(a, b, c)(h)
//
// is a(b(c(h))). Chain panics, when it is called, if any middleware is nil: a nil entry is
// almost always a middleware whose constructor failed, and silently leaving it out could
// drop a protection.
func Chain(mws ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	for i, mw := range mws {
		if mw == nil {
			panic(fmt.Sprintf("phikit: Chain: middleware %d is nil", i))
		}
	}
	mws = append([]func(http.Handler) http.Handler(nil), mws...)
	return func(h http.Handler) http.Handler {
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
}
