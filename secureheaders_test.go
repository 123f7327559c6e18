package phikit_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/phikit/phikit"
)

var secureHeaderCases = []struct {
	name string
	key  string
	want string
}{
	{"hsts", "Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
	{"cache control", "Cache-Control", "no-store"},
	{"nosniff", "X-Content-Type-Options", "nosniff"},
	{"csp", "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"referrer policy", "Referrer-Policy", "no-referrer"},
}

func TestSecureHeaders(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"handler writes nothing", func(w http.ResponseWriter, r *http.Request) {}},
		{"handler writes a body", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) }},
		{"handler writes an error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", http.StatusForbidden)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			phikit.SecureHeaders(tc.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			got := rec.Result().Header
			for _, c := range secureHeaderCases {
				if v := got.Values(c.key); len(v) != 1 || v[0] != c.want {
					t.Errorf("%s: got %q, want [%q]", c.key, v, c.want)
				}
			}
		})
	}
}

func TestSecureHeadersHandlerOverride(t *testing.T) {
	tests := []struct {
		name  string
		set   func(h http.Header)
		key   string
		want  []string
		other string // a header that must be untouched
	}{
		{"Set replaces Cache-Control", func(h http.Header) { h.Set("Cache-Control", "public, max-age=60") },
			"Cache-Control", []string{"public, max-age=60"}, "Strict-Transport-Security"},
		{"Del removes Cache-Control", func(h http.Header) { h.Del("Cache-Control") },
			"Cache-Control", nil, "Referrer-Policy"},
		{"Set replaces CSP", func(h http.Header) { h.Set("Content-Security-Policy", "default-src 'self'") },
			"Content-Security-Policy", []string{"default-src 'self'"}, "Cache-Control"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h := phikit.SecureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tc.set(w.Header())
			}))
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if got := rec.Header().Values(tc.key); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.key, got, tc.want)
			}
			for _, c := range secureHeaderCases {
				if c.key == tc.other {
					if got := rec.Header().Get(c.key); got != c.want {
						t.Errorf("%s: got %q, want %q", c.key, got, c.want)
					}
				}
			}
		})
	}
}

// TestSecureHeadersSlicesAreCapped appends to each header's value slice in turn, by
// Header.Add and by a raw append on the map, and checks that no other header changed.
func TestSecureHeadersSlicesAreCapped(t *testing.T) {
	for _, tc := range secureHeaderCases {
		for _, how := range []struct {
			name string
			add  func(h http.Header, key string)
		}{
			{"Add", func(h http.Header, key string) { h.Add(key, "appended") }},
			{"append", func(h http.Header, key string) { h[key] = append(h[key], "appended") }},
		} {
			t.Run(tc.name+"/"+how.name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				h := phikit.SecureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					how.add(w.Header(), tc.key)
				}))
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
				if got, want := rec.Header().Values(tc.key), []string{tc.want, "appended"}; !slices.Equal(got, want) {
					t.Errorf("%s: got %q, want %q", tc.key, got, want)
				}
				for _, other := range secureHeaderCases {
					if other.key == tc.key {
						continue
					}
					if got := rec.Header().Values(other.key); len(got) != 1 || got[0] != other.want {
						t.Errorf("%s after appending to %s: got %q, want [%q]", other.key, tc.key, got, other.want)
					}
				}
			})
		}
	}
}

// TestSecureHeadersFreshPerRequest checks that one response's change to a header value,
// made in place, does not leak into the next response of the same handler.
func TestSecureHeadersFreshPerRequest(t *testing.T) {
	calls := 0
	h := phikit.SecureHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			for _, c := range secureHeaderCases {
				w.Header()[c.key][0] = "tampered"
			}
		}
	}))
	tests := []struct {
		name     string
		tampered bool
	}{
		{"first response tampered", true},
		{"second response clean", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			for _, c := range secureHeaderCases {
				want := c.want
				if tc.tampered {
					want = "tampered"
				}
				if got := rec.Header().Get(c.key); got != want {
					t.Errorf("%s: got %q, want %q", c.key, got, want)
				}
			}
		})
	}
}
