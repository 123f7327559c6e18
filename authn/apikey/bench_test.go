package apikey_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"github.com/phikit/phikit/authn/apikey"
)

// BenchmarkAuthenticate measures what a request pays to authenticate with an API key on
// the memory store, beside the primitive it is built on: one HMAC-SHA-256 of a key under
// the pepper, keyed afresh each time as a straightforward implementation would.
func BenchmarkAuthenticate(b *testing.B) {
	c := newClock()
	store := apikey.NewMemoryStore()
	k := newKeys(b, store, "live", c, nil)
	req := apikey.IssueRequest{Subject: "svc:lab", Scopes: []string{"system/Observation.c"}, AllowedCIDRs: cidrs("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32")}
	key, _ := issue(b, k, req)
	for range 1000 { // a store with other keys in it
		issue(b, k, req)
	}
	unknown := key[:9] + "aaaaaaaaaaaa" + key[21:]    // another id
	wrongSecret := key[:22] + strings.Repeat("a", 52) // the right id

	b.Run("baseline=hmac-sha256", func(b *testing.B) {
		msg := []byte(key)
		b.ReportAllocs()
		for b.Loop() {
			h := hmac.New(sha256.New, testPepper)
			h.Write(msg)
			_ = h.Sum(nil)
		}
	})
	cases := []struct {
		name string
		r    *http.Request
		ok   bool
	}{
		{"valid", request("192.0.2.10:5000", key), true},
		{"unknown-id", request("192.0.2.10:5000", unknown), false},
		{"wrong-secret", request("192.0.2.10:5000", wrongSecret), false},
		{"malformed", request("192.0.2.10:5000", key+"x"), false},
		{"missing", request("192.0.2.10:5000"), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := k.Authenticate(tc.r); (err == nil) != tc.ok {
				b.Fatalf("Authenticate: got error %v, want ok %v", err, tc.ok)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = k.Authenticate(tc.r)
			}
		})
	}
}
