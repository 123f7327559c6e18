package authz

import (
	"errors"
	"net/http"
	"slices"

	"github.com/phikit/phikit/audit"
)

// RequirePurpose returns middleware for a route that may be used only under one of the
// given purposes of use (for example a research export: "HRESCH"). It must run inside
// the Authorizer's Handler, which decided the purpose; a request it did not decide, or
// decided under another purpose, is refused with ErrPurpose through the Authorizer's
// ErrorHandler (400 by default) and the audit event records "authz.purpose".
func (a *Authorizer) RequirePurpose(purposes ...string) (func(http.Handler) http.Handler, error) {
	if len(purposes) == 0 {
		return nil, errors.New("authz: RequirePurpose needs at least one purpose")
	}
	for _, p := range purposes {
		if !a.purposes[p] {
			return nil, errors.New("authz: RequirePurpose: " + p + " is not an accepted purpose")
		}
	}
	purposes = slices.Clone(purposes)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("authz: RequirePurpose: next is nil")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, ok := FromContext(r.Context())
			if !ok || !slices.Contains(purposes, d.Purpose) {
				audit.Annotate(r.Context(), func(e *audit.Event) { e.Rejection = "authz.purpose" })
				a.onError(w, r, ErrPurpose)
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}
