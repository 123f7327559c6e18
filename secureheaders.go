package phikit

import "net/http"

// The headers SecureHeaders sets on every response.
const (
	// HSTS for two years on this host and its subdomains. Browsers ignore it over plain
	// HTTP, so it is sent whatever the scheme (TLS is often terminated by a proxy).
	headerHSTS = "max-age=63072000; includeSubDomains"
	// An API response is data, never a page: no sources, no framing.
	headerCSP = "default-src 'none'; frame-ancestors 'none'"
)

// SecureHeaders sets response headers that suit an API carrying PHI, before the next
// handler runs:
//
//	Strict-Transport-Security: max-age=63072000; includeSubDomains
//	Cache-Control: no-store
//	X-Content-Type-Options: nosniff
//	Content-Security-Policy: default-src 'none'; frame-ancestors 'none'
//	Referrer-Policy: no-referrer
//
// Cache-Control: no-store keeps PHI out of shared and browser caches. A handler that must
// differ on one route (a public, cacheable document) sets its own value, which replaces
// this one; it is a choice made in code, route by route.
func SecureHeaders(next http.Handler) http.Handler {
	if next == nil {
		panic("phikit: SecureHeaders: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// One allocation for all five values; each slice is capped at length 1 so that a
		// handler appending to one cannot write into the next.
		v := &[5]string{headerHSTS, "no-store", "nosniff", headerCSP, "no-referrer"}
		h := w.Header()
		h["Strict-Transport-Security"] = v[0:1:1]
		h["Cache-Control"] = v[1:2:2]
		h["X-Content-Type-Options"] = v[2:3:3]
		h["Content-Security-Policy"] = v[3:4:4]
		h["Referrer-Policy"] = v[4:5:5]
		next.ServeHTTP(w, r)
	})
}
