package apikey_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/apikey"
)

var keyPattern = regexp.MustCompile(`^phk_live_[a-z2-7]{12}_[a-z2-7]{51}[aq]$`)

func TestIssue(t *testing.T) {
	c := newClock()
	c.Set(t0.Add(123456789 * time.Nanosecond))
	store := apikey.NewMemoryStore()
	k := newKeys(t, store, "live", c, nil)
	req := apikey.IssueRequest{
		Name:         "Quest results feed",
		Subject:      "svc:quest",
		Tenant:       "org-quest",
		Scopes:       []string{"system/Observation.c", "system/Patient.r"},
		AllowedCIDRs: cidrs("203.0.113.7/24", "2001:db8:1::/48"),
		TTL:          90 * 24 * time.Hour,
	}
	key, rec, err := k.Issue(context.Background(), req)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if !keyPattern.MatchString(key) || len(key) != 74 {
		t.Errorf("key %q (%d bytes) does not match %v", key, len(key), keyPattern)
	}
	if id, err := apikey.IDOf(key); err != nil || id != rec.ID {
		t.Errorf("IDOf(key): got %q, %v; want %q, nil", id, err, rec.ID)
	}
	created := t0.Add(123456 * time.Microsecond)
	want := apikey.Record{
		ID: rec.ID, Name: req.Name, Env: "live", Scopes: req.Scopes, Subject: req.Subject, Tenant: req.Tenant,
		AllowedCIDRs: cidrs("203.0.113.0/24", "2001:db8:1::/48"), // masked
		CreatedAt:    created, ExpiresAt: created.Add(req.TTL),
	}
	if rec.ID != want.ID || rec.Name != want.Name || rec.Env != want.Env || rec.Subject != want.Subject || rec.Tenant != want.Tenant ||
		!slices.Equal(rec.Scopes, want.Scopes) || !slices.Equal(rec.AllowedCIDRs, want.AllowedCIDRs) ||
		!rec.CreatedAt.Equal(want.CreatedAt) || !rec.ExpiresAt.Equal(want.ExpiresAt) || !rec.RevokedAt.IsZero() {
		t.Errorf("Issue: got record %v, want %v", rec, want)
	}
	mac := hmac.New(sha256.New, testPepper) // the documented hash, which other tools may rely on
	mac.Write([]byte(key))
	if want := mac.Sum(nil); !hmac.Equal(rec.Hash, want) {
		t.Errorf("Hash: got %x, want HMAC-SHA-256(pepper, key) %x", rec.Hash, want)
	}
	stored, err := store.Get(context.Background(), rec.ID)
	if err != nil || !slices.Equal(stored.Hash, rec.Hash) || stored.Subject != rec.Subject {
		t.Errorf("store: got %v, %v; want the issued record", stored, err)
	}
	// The caller's slices are not shared with the record.
	req.Scopes[0] = "changed"
	if rec.Scopes[0] == "changed" {
		t.Error("Issue kept the caller's Scopes slice")
	}

	// Keys differ every time; ids too.
	key2, rec2 := issue(t, k, apikey.IssueRequest{Subject: "svc:quest", AllowedCIDRs: cidrs("0.0.0.0/0")})
	if key2 == key || rec2.ID == rec.ID || secretOf(key2) == secretOf(key) {
		t.Error("two issued keys share an id or a secret")
	}
	// Zero TTL is the maximum lifetime.
	if want := rec2.CreatedAt.Add(apikey.DefaultMaxLifetime); !rec2.ExpiresAt.Equal(want) {
		t.Errorf("zero TTL: got ExpiresAt %v, want %v", rec2.ExpiresAt, want)
	}
}

func TestIssueRequest(t *testing.T) {
	anywhere := cidrs("0.0.0.0/0", "::/0")
	tests := []struct {
		name    string
		req     apikey.IssueRequest
		wantErr string // "" means Issue succeeds
	}{
		{"minimal", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: anywhere}, ""},
		{"no subject", apikey.IssueRequest{AllowedCIDRs: anywhere}, "Subject is required"},
		{"subject with newline", apikey.IssueRequest{Subject: "svc:a\nforged", AllowedCIDRs: anywhere}, "Subject"},
		{"subject of 256 bytes", apikey.IssueRequest{Subject: strings.Repeat("s", 256), AllowedCIDRs: anywhere}, ""},
		{"subject of 257 bytes", apikey.IssueRequest{Subject: strings.Repeat("s", 257), AllowedCIDRs: anywhere}, "Subject"},
		{"subject not UTF-8", apikey.IssueRequest{Subject: "svc:\xff", AllowedCIDRs: anywhere}, "Subject"},
		{"tenant", apikey.IssueRequest{Subject: "svc:a", Tenant: "org-1", AllowedCIDRs: anywhere}, ""},
		{"tenant with newline", apikey.IssueRequest{Subject: "svc:a", Tenant: "org\nforged", AllowedCIDRs: anywhere}, "Tenant"},
		{"tenant of 257 bytes", apikey.IssueRequest{Subject: "svc:a", Tenant: strings.Repeat("t", 257), AllowedCIDRs: anywhere}, "Tenant"},
		{"unicode name", apikey.IssueRequest{Name: "Labor Köln — Befunde", Subject: "svc:a", AllowedCIDRs: anywhere}, ""},
		{"name with tab", apikey.IssueRequest{Name: "a\tb", Subject: "svc:a", AllowedCIDRs: anywhere}, "Name"},
		{"name of 201 bytes", apikey.IssueRequest{Name: strings.Repeat("n", 201), Subject: "svc:a", AllowedCIDRs: anywhere}, "Name"},
		{"SMART scopes", apikey.IssueRequest{Subject: "svc:a", Scopes: []string{"system/Observation.cruds", "system/*.rs"}, AllowedCIDRs: anywhere}, ""},
		{"empty scope", apikey.IssueRequest{Subject: "svc:a", Scopes: []string{""}, AllowedCIDRs: anywhere}, "scope 0"},
		{"scope with space", apikey.IssueRequest{Subject: "svc:a", Scopes: []string{"a b"}, AllowedCIDRs: anywhere}, "scope 0"},
		{"scope with quote", apikey.IssueRequest{Subject: "svc:a", Scopes: []string{"ok", `a"b`}, AllowedCIDRs: anywhere}, "scope 1"},
		{"repeated scope", apikey.IssueRequest{Subject: "svc:a", Scopes: []string{"a", "b", "a"}, AllowedCIDRs: anywhere}, "scope 2 repeats"},
		{"no CIDRs", apikey.IssueRequest{Subject: "svc:a"}, "AllowedCIDRs is required"},
		{"invalid CIDR", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: []netip.Prefix{{}}}, "AllowedCIDRs[0] is not a valid prefix"},
		{"IPv4-mapped CIDR", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("10.0.0.0/8", "::ffff:10.0.0.0/104")}, "AllowedCIDRs[1] is IPv4-mapped"},
		{"IPv6 /128", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("2001:db8::1/128")}, ""},
		{"65 CIDRs", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: slices.Repeat(cidrs("10.0.0.0/8"), 65)}, "at most 64"},
		{"TTL one minute", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: anywhere, TTL: time.Minute}, ""},
		{"TTL the maximum", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: anywhere, TTL: 30 * 24 * time.Hour}, ""},
		{"TTL above the maximum", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: anywhere, TTL: 30*24*time.Hour + time.Nanosecond}, "TTL"},
		{"negative TTL", apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: anywhere, TTL: -time.Hour}, "TTL"},
	}
	c := newClock()
	store := apikey.NewMemoryStore()
	k, err := apikey.New(apikey.Config{Store: store, Pepper: testPepper, Env: "live", Now: c.Now, MaxLifetime: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, rec, err := k.Issue(context.Background(), tt.req)
			if tt.wantErr == "" {
				if err != nil || key == "" || rec.ID == "" {
					t.Fatalf("Issue: got %q, %v, %v; want a key", key, rec, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Issue: got error %v, want one containing %q", err, tt.wantErr)
			}
			if key != "" || rec.ID != "" {
				t.Errorf("refused Issue returned key %q, record %v", key, rec)
			}
		})
	}
	list, _ := store.List(context.Background(), "svc:a")
	for _, rec := range list {
		if rec.Name == strings.Repeat("n", 201) {
			t.Error("a refused request was stored")
		}
	}
}

// A store failure fails Issue, and no key is returned.
func TestIssueStoreFailure(t *testing.T) {
	store := newCountingStore()
	k := newKeys(t, store, "live", newClock(), nil)
	down := errors.New("connection refused")
	store.failWith(down)
	key, _, err := k.Issue(context.Background(), apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	if !errors.Is(err, down) || key != "" {
		t.Errorf("Issue: got %q, %v; want no key and an error wrapping the store's", key, err)
	}
}

func TestRevoke(t *testing.T) {
	c := newClock()
	store := apikey.NewMemoryStore()
	k := newKeys(t, store, "live", c, nil)
	_, rec := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	ctx := context.Background()

	c.Advance(time.Hour)
	if err := k.Revoke(ctx, rec.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	c.Advance(time.Hour)
	if err := k.Revoke(ctx, rec.ID); err != nil {
		t.Fatalf("Revoke again: %v", err)
	}
	got, _ := store.Get(ctx, rec.ID)
	if want := t0.Add(time.Hour); !got.RevokedAt.Equal(want) {
		t.Errorf("RevokedAt: got %v, want the first revocation %v", got.RevokedAt, want)
	}
	if err := k.Revoke(ctx, "aaaaaaaaaaaa"); !errors.Is(err, apikey.ErrNotFound) {
		t.Errorf("Revoke(unknown): got error %v, want ErrNotFound", err)
	}
	for _, id := range []string{"", "short", "AAAAAAAAAAAA", "aaaaaaaaaaaa1", "phk_live_aaaaaaaaaaaa"} {
		if err := k.Revoke(ctx, id); err == nil || errors.Is(err, apikey.ErrNotFound) {
			t.Errorf("Revoke(%q): got error %v, want a malformed id", id, err)
		}
	}
}

func TestIDOf(t *testing.T) {
	k := newKeys(t, apikey.NewMemoryStore(), "test", newClock(), nil)
	key, rec := issue(t, k, apikey.IssueRequest{Subject: "svc:a", AllowedCIDRs: cidrs("0.0.0.0/0")})
	if id, err := apikey.IDOf(key); err != nil || id != rec.ID {
		t.Errorf("IDOf(issued key): got %q, %v; want %q", id, err, rec.ID)
	}
	if id, err := apikey.IDOf(key + "x"); err != apikey.ErrMalformedKey || id != "" {
		t.Errorf("IDOf(malformed): got %q, %v; want ErrMalformedKey", id, err)
	}
}
