package ratelimit

import (
	"fmt"
	"net/http"
	"path"
	"strings"
)

// RouteCosts returns a Config.Cost function that charges by route: patterns are
// net/http.ServeMux patterns ("GET /fhir/{type}", "POST /fhir/{type}/$export"), matched
// with ServeMux's rules (the most specific pattern wins; a GET pattern also matches
// HEAD), and a request no pattern matches costs def. Costs must be positive, and
// patterns must be valid and must not conflict; otherwise it returns an error wrapping
// ErrInvalidConfig. The function is safe for concurrent use.
//
// A cost above the limiter's burst is always refused, so keep the costliest route
// within Burst.
func RouteCosts(def int, costs map[string]int) (func(*http.Request) int, error) {
	if def < 1 {
		return nil, fmt.Errorf("ratelimit: the default cost must be positive: %w", ErrInvalidConfig)
	}
	mux := http.NewServeMux()
	for pattern, c := range costs {
		if c < 1 {
			return nil, fmt.Errorf("ratelimit: the cost of %q must be positive: %w", pattern, ErrInvalidConfig)
		}
		if err := handle(mux, pattern, costHandler(c)); err != nil {
			return nil, err
		}
	}
	return func(r *http.Request) int {
		if c, ok := lookup(mux, r); ok {
			return c
		}
		// ServeMux redirects an unclean path ("/fhir/Patient/../$export") rather than
		// match it; another router may serve it cleaned, so charge it as cleaned.
		if p := cleanPath(r.URL.Path); p != r.URL.Path {
			r2, u := *r, *r.URL
			u.Path, u.RawPath = p, ""
			r2.URL = &u
			if c, ok := lookup(mux, &r2); ok {
				return c
			}
		}
		return def
	}, nil
}

func lookup(mux *http.ServeMux, r *http.Request) (int, bool) {
	h, _ := mux.Handler(r)
	c, ok := h.(costHandler)
	return int(c), ok
}

// cleanPath is path.Clean keeping a trailing slash, as ServeMux cleans.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// handle registers h, turning ServeMux's panic on a bad or conflicting pattern into an
// error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("ratelimit: route pattern %q: %v: %w", pattern, p, ErrInvalidConfig)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// costHandler is a route's cost, registered in a ServeMux only to be found again.
type costHandler int

func (costHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// FHIRCosts returns route costs for a FHIR REST API under base ("/fhir"), for
// RouteCosts: a read or vread costs 1 (RouteCosts' default should be 1), a search or a
// history 5, a batch or transaction 10, $everything 50 and a bulk $export kick-off 100.
// Adjust the map to your server before use; it is a fresh copy each call. base must
// start with "/" and not end with one.
func FHIRCosts(base string) map[string]int {
	base = strings.TrimSuffix(base, "/")
	m := map[string]int{
		"GET " + base + "/{type}":                     5, // search
		"POST " + base + "/{type}/_search":            5,
		"GET " + base + "/{type}/_history":            5,
		"GET " + base + "/{type}/{id}/_history":       5,
		"GET " + base + "/_history":                   5,
		"POST " + base:                                10, // batch or transaction
		"POST " + base + "/{$}":                       10,
		"GET " + base + "/metadata":                   1,
		"GET " + base + "/Patient/{id}/$everything":   50,
		"GET " + base + "/$export":                    100,
		"GET " + base + "/{type}/$export":             100, // Patient/$export
		"GET " + base + "/Group/{id}/$export":         100,
		"POST " + base + "/$export":                   100,
		"POST " + base + "/{type}/$export":            100,
		"POST " + base + "/Group/{id}/$export":        100,
		"GET " + base + "/{type}/{id}/_history/{vid}": 1, // vread
	}
	return m
}
