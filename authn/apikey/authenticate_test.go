package apikey_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/apikey"
)

// fixture is a "live" service with a few keys issued at t0.
type fixture struct {
	clock *clock
	store *countingStore
	keys  *apikey.Keys

	good            string // allowed from 192.0.2.0/24 and 2001:db8:1::/48
	goodRec         apikey.Record
	shortLived      string // expires at t0+1h
	revoked         string
	testEnv         string // a "test" key in the same store
	otherEnvRecord  string // a "live" key whose record says "test", in recordEnvKeys' store
	recordEnvKeys   *apikey.Keys
	recordEnvStore  *countingStore
	secrets         []string // every secret above
	unknownID       string   // well formed, not in the store
	tamperedSecret  string
	idOfAnotherKey  string // good's secret under revoked's id
	nonCanonical    string // good with a last character that carries stray bits
	uppercase       string
	oversize, at128 string
}

// gets returns how many times the fixture's stores were asked for a record.
func (f *fixture) gets() int64 { return f.store.gets.Load() + f.recordEnvStore.gets.Load() }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), store: newCountingStore()}
	f.keys = newKeys(t, f.store, "live", f.clock, nil)
	req := apikey.IssueRequest{
		Subject:      "svc:lab",
		Tenant:       "org-lab",
		Scopes:       []string{"system/Observation.c"},
		AllowedCIDRs: cidrs("192.0.2.0/24", "2001:db8:1::/48"),
	}
	f.good, f.goodRec = issue(t, f.keys, req)
	short := req
	short.TTL = time.Hour
	f.shortLived, _ = issue(t, f.keys, short)
	var revokedRec apikey.Record
	f.revoked, revokedRec = issue(t, f.keys, req)
	if err := f.keys.Revoke(context.Background(), revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	f.testEnv, _ = issue(t, newKeys(t, f.store, "test", f.clock, nil), req)

	// A record whose Env disagrees with its key: a store shared by mistake, or edited.
	other := apikey.NewMemoryStore()
	f.recordEnvKeys = newKeys(t, other, "live", f.clock, nil)
	var rec apikey.Record
	f.otherEnvRecord, rec = issue(t, f.recordEnvKeys, req)
	edited, _ := other.Get(context.Background(), rec.ID)
	edited.Env, edited.ID = "test", rec.ID
	f.recordEnvStore = newCountingStore()
	_ = f.recordEnvStore.Put(context.Background(), edited)
	f.recordEnvKeys = newKeys(t, f.recordEnvStore, "live", f.clock, nil)

	f.secrets = []string{secretOf(f.good), secretOf(f.shortLived), secretOf(f.revoked), secretOf(f.testEnv), secretOf(f.otherEnvRecord)}

	id := f.goodRec.ID
	f.unknownID = strings.Replace(f.good, id, "aaaaaaaaaaaa", 1)
	s := []byte(f.good)
	i := len(s) - 10
	s[i] = map[bool]byte{true: 'b', false: 'a'}[s[i] == 'a']
	f.tamperedSecret = string(s)
	f.idOfAnotherKey = strings.Replace(f.good, id, revokedRec.ID, 1)
	f.nonCanonical = f.good[:len(f.good)-1] + map[bool]string{true: "b", false: "r"}[f.good[len(f.good)-1] == 'a']
	f.uppercase = strings.ToUpper(f.good)
	f.oversize = f.good + strings.Repeat("a", apikey.MaxKeyBytes+1-len(f.good))
	f.at128 = "phk_live_" + id + "_" + strings.Repeat("a", apikey.MaxKeyBytes-len("phk_live_")-len(id)-1)
	return f
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name    string
		r       *http.Request
		at      time.Duration // after t0
		keys    *apikey.Keys  // nil means f.keys
		store   bool          // the store must be asked
		wantErr error         // nil means allowed
	}{
		{"valid, IPv4", request("192.0.2.10:5000", f.good), 0, nil, true, nil},
		{"valid, IPv6", request("[2001:db8:1:2::9]:443", f.good), 0, nil, true, nil},
		{"valid, IPv4-mapped IPv6 peer", request("[::ffff:192.0.2.10]:443", f.good), 0, nil, true, nil},
		{"peer without port: not an address the server wrote", request("192.0.2.10", f.good), 0, nil, true, apikey.ErrAddressNotAllowed},
		{"valid, a second before expiry", request("192.0.2.10:5000", f.shortLived), time.Hour - time.Second, nil, true, nil},
		{"expired, at expiry", request("192.0.2.10:5000", f.shortLived), time.Hour, nil, true, apikey.ErrKeyExpired},
		{"expired, a year on", request("192.0.2.10:5000", f.good), apikey.DefaultMaxLifetime, nil, true, apikey.ErrKeyExpired},
		{"revoked", request("192.0.2.10:5000", f.revoked), 0, nil, true, apikey.ErrKeyRevoked},
		{"wrong env, key", request("192.0.2.10:5000", f.testEnv), 0, nil, false, apikey.ErrWrongEnvironment},
		{"wrong env, record", request("192.0.2.10:5000", f.otherEnvRecord), 0, f.recordEnvKeys, true, apikey.ErrWrongEnvironment},
		{"IPv4 outside CIDRs", request("198.51.100.7:5000", f.good), 0, nil, true, apikey.ErrAddressNotAllowed},
		{"IPv6 outside CIDRs", request("[2001:db8:2::9]:443", f.good), 0, nil, true, apikey.ErrAddressNotAllowed},
		{"IPv6 link-local with zone", request("[fe80::1%eth0]:443", f.good), 0, nil, true, apikey.ErrAddressNotAllowed},
		{"peer address unknown", request("@", f.good), 0, nil, true, apikey.ErrAddressNotAllowed},
		{"unknown id", request("192.0.2.10:5000", f.unknownID), 0, nil, true, apikey.ErrUnknownKey},
		{"tampered secret", request("192.0.2.10:5000", f.tamperedSecret), 0, nil, true, apikey.ErrUnknownKey},
		{"secret under another key's id", request("192.0.2.10:5000", f.idOfAnotherKey), 0, nil, true, apikey.ErrUnknownKey},
		{"malformed, non-canonical secret", request("192.0.2.10:5000", f.nonCanonical), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, uppercase", request("192.0.2.10:5000", f.uppercase), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, trailing space", request("192.0.2.10:5000", f.good+" "), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, two keys in one header", request("192.0.2.10:5000", f.good+","+f.good), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, other prefix", request("192.0.2.10:5000", "sk_"+f.good[4:]), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, secret only", request("192.0.2.10:5000", secretOf(f.good)), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, empty", request("192.0.2.10:5000", ""), 0, nil, false, apikey.ErrMalformedKey},
		{"malformed, 128 bytes", request("192.0.2.10:5000", f.at128), 0, nil, false, apikey.ErrMalformedKey},
		{"oversize, 129 bytes", request("192.0.2.10:5000", f.oversize), 0, nil, false, apikey.ErrMalformedKey},
		{"oversize, 1 MiB", request("192.0.2.10:5000", f.good+strings.Repeat("a", 1<<20)), 0, nil, false, apikey.ErrMalformedKey},
		{"two headers, same key", request("192.0.2.10:5000", f.good, f.good), 0, nil, false, apikey.ErrMultipleKeys},
		{"two headers, good and bad", request("192.0.2.10:5000", f.good, f.revoked), 0, nil, false, apikey.ErrMultipleKeys},
		{"missing", request("192.0.2.10:5000"), 0, nil, false, apikey.ErrNoKey},
		{"Authorization: ApiKey is not read", withHeader(request("192.0.2.10:5000"), "Authorization", "ApiKey "+f.good), 0, nil, false, apikey.ErrNoKey},
		{"Authorization: Bearer is not read", withHeader(request("192.0.2.10:5000"), "Authorization", "Bearer "+f.good), 0, nil, false, apikey.ErrNoKey},
		{"key in the query is not read", queryKey(f.good), 0, nil, false, apikey.ErrNoKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Set(t0.Add(tt.at))
			keys := tt.keys
			if keys == nil {
				keys = f.keys
			}
			before := f.gets()
			p, err := keys.Authenticate(tt.r)
			if asked := f.gets() != before; asked != tt.store {
				t.Errorf("store asked: got %v, want %v", asked, tt.store)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || p != nil {
					t.Fatalf("Authenticate: got %v, %v; want error %v", p, err, tt.wantErr)
				}
				for _, s := range f.secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q contains a secret", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Authenticate: got error %v, want none", err)
			}
			want := &authn.Principal{
				Subject: "svc:lab", ClientID: f.goodRec.ID, Tenant: "org-lab", Scopes: []string{"system/Observation.c"},
				ExpiresAt: f.goodRec.ExpiresAt, Method: authn.MethodAPIKey,
			}
			if tt.r.Header.Get("X-API-Key") == f.shortLived {
				want.ClientID, want.ExpiresAt = p.ClientID, t0.Add(time.Hour)
			}
			if p.Subject != want.Subject || p.ClientID != want.ClientID || p.Tenant != want.Tenant || !slices.Equal(p.Scopes, want.Scopes) ||
				!p.ExpiresAt.Equal(want.ExpiresAt) || p.Method != want.Method || p.Issuer != "" {
				t.Errorf("Authenticate: got %+v, want %+v", p, want)
			}
		})
	}
}

func withHeader(r *http.Request, name, value string) *http.Request {
	r.Header.Set(name, value)
	return r
}

func queryKey(key string) *http.Request {
	r := request("192.0.2.10:5000")
	r.URL.RawQuery = "api_key=" + key
	return r
}

// A failing store refuses the request with a *StoreError, whatever the key.
func TestAuthenticateStoreFailure(t *testing.T) {
	f := newFixture(t)
	down := errors.New("pq: connection refused")
	f.store.failWith(down)
	for _, key := range []string{f.good, f.unknownID, f.revoked} {
		p, err := f.keys.Authenticate(request("192.0.2.10:5000", key))
		var se *apikey.StoreError
		if p != nil || !errors.As(err, &se) || !errors.Is(err, down) {
			t.Errorf("Authenticate: got %v, %v; want a *StoreError wrapping %v", p, err, down)
		}
	}
}

// Config.ClientIP replaces the connection's peer, and ok false refuses.
func TestClientIP(t *testing.T) {
	c := newClock()
	store := apikey.NewMemoryStore()
	fromHeader := func(r *http.Request) (netip.Addr, bool) { // a stand-in for a trusted-proxy resolver
		a, err := netip.ParseAddr(r.Header.Get("X-Test-Client"))
		return a, err == nil
	}
	k, err := apikey.New(apikey.Config{Store: store, Pepper: testPepper, Env: "live", Now: c.Now, ClientIP: fromHeader})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("203.0.113.0/24")})
	tests := []struct {
		name    string
		client  string
		wantErr error
	}{
		{"resolved address allowed", "203.0.113.5", nil},
		{"resolved IPv4-mapped address allowed", "::ffff:203.0.113.5", nil},
		{"resolved address not allowed", "192.0.2.10", apikey.ErrAddressNotAllowed},
		{"no address", "", apikey.ErrAddressNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("10.0.0.1:1234", key) // the proxy
			r.Header.Set("X-Test-Client", tt.client)
			if _, err := k.Authenticate(r); !errors.Is(err, tt.wantErr) {
				t.Errorf("Authenticate: got error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// A record with no AllowedCIDRs (written by other tooling) allows nothing.
func TestRecordWithoutCIDRs(t *testing.T) {
	c := newClock()
	src := apikey.NewMemoryStore()
	k := newKeys(t, src, "live", c, nil)
	key, rec := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0", "::/0")})
	rec.AllowedCIDRs = nil
	dst := apikey.NewMemoryStore()
	if err := dst.Put(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := newKeys(t, dst, "live", c, nil).Authenticate(request("192.0.2.1:1", key)); !errors.Is(err, apikey.ErrAddressNotAllowed) {
		t.Errorf("Authenticate: got error %v, want ErrAddressNotAllowed", err)
	}
}

// Another pepper verifies nothing: a copy of the store is useless without it.
func TestOtherPepper(t *testing.T) {
	c := newClock()
	store := apikey.NewMemoryStore()
	key, _ := issue(t, newKeys(t, store, "live", c, nil), apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	other, err := apikey.New(apikey.Config{Store: store, Pepper: []byte(strings.Repeat("x", 32)), Env: "live", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(request("192.0.2.1:1", key)); !errors.Is(err, apikey.ErrUnknownKey) {
		t.Errorf("Authenticate with another pepper: got error %v, want ErrUnknownKey", err)
	}
}

// Authenticate is safe for concurrent use, with revocations under way.
func TestAuthenticateConcurrent(t *testing.T) {
	f := newFixture(t)
	done := make(chan struct{})
	errs := make(chan error, 64)
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				if _, err := f.keys.Authenticate(request("192.0.2.10:1", f.good)); err != nil {
					errs <- err
					return
				}
				if _, err := f.keys.Authenticate(request("192.0.2.10:1", f.tamperedSecret)); !errors.Is(err, apikey.ErrUnknownKey) {
					errs <- err
					return
				}
			}
		}()
	}
	for range 20 {
		_, rec := issue(t, f.keys, apikey.IssueRequest{Subject: "svc:churn", AllowedCIDRs: cidrs("0.0.0.0/0")})
		if err := f.keys.Revoke(context.Background(), rec.ID); err != nil {
			t.Error(err)
		}
	}
	for range 4 {
		<-done
	}
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Authenticate: %v", err)
	}
}
