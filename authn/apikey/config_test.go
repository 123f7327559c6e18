package apikey_test

import (
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/apikey"
)

func TestNew(t *testing.T) {
	store := apikey.NewMemoryStore()
	ok := apikey.Config{Store: store, Pepper: testPepper, Env: "live"}
	with := func(f func(*apikey.Config)) apikey.Config {
		c := ok
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		cfg     apikey.Config
		wantErr string // "" means New succeeds
	}{
		{"minimal", ok, ""},
		{"no store", with(func(c *apikey.Config) { c.Store = nil }), "Store is required"},
		{"no pepper", with(func(c *apikey.Config) { c.Pepper = nil }), "at least 32 bytes"},
		{"31-byte pepper", with(func(c *apikey.Config) { c.Pepper = testPepper[:31] }), "at least 32 bytes"},
		{"64-byte pepper", with(func(c *apikey.Config) { c.Pepper = append(testPepper, testPepper...) }), ""},
		{"no env", with(func(c *apikey.Config) { c.Env = "" }), "Env must be"},
		{"env 8 letters", with(func(c *apikey.Config) { c.Env = "stagingx" }), ""},
		{"env 9 letters", with(func(c *apikey.Config) { c.Env = "stagingxy" }), "Env must be"},
		{"env uppercase", with(func(c *apikey.Config) { c.Env = "Live" }), "Env must be"},
		{"env with digit", with(func(c *apikey.Config) { c.Env = "live2" }), "Env must be"},
		{"env with underscore", with(func(c *apikey.Config) { c.Env = "li_ve" }), "Env must be"},
		{"lifetime 30 days", with(func(c *apikey.Config) { c.MaxLifetime = 30 * 24 * time.Hour }), ""},
		{"negative lifetime", with(func(c *apikey.Config) { c.MaxLifetime = -time.Second }), "MaxLifetime"},
		{"custom header", with(func(c *apikey.Config) { c.Header = "x-service-key" }), ""},
		{"header with space", with(func(c *apikey.Config) { c.Header = "X API Key" }), "not a valid header name"},
		{"header with colon", with(func(c *apikey.Config) { c.Header = "X-API-Key:" }), "not a valid header name"},
		{"Authorization header", with(func(c *apikey.Config) { c.Header = "authorization" }), "must not be Authorization"},
		{"Proxy-Authorization header", with(func(c *apikey.Config) { c.Header = "Proxy-Authorization" }), "must not be Proxy-Authorization"},
		{"Cookie header", with(func(c *apikey.Config) { c.Header = "COOKIE" }), "must not be Cookie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := apikey.New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: got error %v, want none", err)
			case tt.wantErr == "" && k == nil:
				t.Fatal("New: got nil Keys and no error")
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// New copies the pepper: changing the caller's slice afterwards changes nothing.
func TestNewCopiesPepper(t *testing.T) {
	c := newClock()
	pepper := append([]byte(nil), testPepper...)
	store := apikey.NewMemoryStore()
	k, err := apikey.New(apikey.Config{Store: store, Pepper: pepper, Env: "live", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	clear(pepper)
	if _, err := k.Authenticate(request("192.0.2.1:1234", key)); err != nil {
		t.Errorf("after the caller cleared its pepper: got error %v, want none", err)
	}
}

// Config.Header names the header; the default header is then not read.
func TestCustomHeader(t *testing.T) {
	c := newClock()
	k, err := apikey.New(apikey.Config{Store: apikey.NewMemoryStore(), Pepper: testPepper, Env: "live", Now: c.Now, Header: "x-service-key"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	r := request("192.0.2.1:1234")
	r.Header.Set("X-Service-Key", key)
	if _, err := k.Authenticate(r); err != nil {
		t.Errorf("key in X-Service-Key: got error %v, want none", err)
	}
	if _, err := k.Authenticate(request("192.0.2.1:1234", key)); err != apikey.ErrNoKey {
		t.Errorf("key in X-API-Key: got error %v, want ErrNoKey", err)
	}
}
