package apikey_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/apikey"
)

// A lab interface engine gets a key; requests with it reach the handler as its
// Principal, others are refused with 401.
func Example() {
	keys, err := apikey.New(apikey.Config{
		Store:  apikey.NewMemoryStore(),
		Pepper: []byte("example pepper: use 32+ random bytes from a KMS"),
		Env:    "live",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	key, rec, err := keys.Issue(context.Background(), apikey.IssueRequest{
		Name:         "Quest results feed",
		Subject:      "svc:quest-interface",
		Scopes:       []string{"system/Observation.c"},
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		TTL:          90 * 24 * time.Hour,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(key, "phk_live_"+rec.ID+"_"), len(key))

	api := keys.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		fmt.Fprintf(w, "%s via %s, scopes %v", p.Subject, p.Method, p.Scopes)
	}))
	guessed := key[:len(key)-52] + strings.Repeat("a", 52) // the right id, a wrong secret
	for _, k := range []string{key, guessed, ""} {
		r := httptest.NewRequest(http.MethodPost, "/fhir/Observation", nil) // from 192.0.2.1
		if k != "" {
			r.Header.Set("X-API-Key", k)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			fmt.Println(w.Code, w.Body)
			continue
		}
		fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// true 74
	// 200 svc:quest-interface via api-key, scopes [system/Observation.c]
	// 401 application/problem+json ApiKey header="X-API-Key"
	// 401 application/problem+json ApiKey header="X-API-Key"
}

// Rotation: issue a second key for the subject, deploy it, then revoke the first. Both
// work in between.
func Example_rotation() {
	store := apikey.NewMemoryStore()
	keys, err := apikey.New(apikey.Config{Store: store, Pepper: []byte("example pepper: use 32+ random bytes from a KMS"), Env: "live"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	req := apikey.IssueRequest{Subject: "svc:claims-export", AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	oldKey, oldRec, _ := keys.Issue(ctx, req)
	newKey, _, _ := keys.Issue(ctx, req) // 1. issue

	try := func(when, key string) {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Claim", nil)
		r.Header.Set("X-API-Key", key)
		_, err := keys.Authenticate(r)
		fmt.Printf("%-8s %v\n", when, err)
	}
	try("old", oldKey) // 2. deploy the new key while the old one still works
	try("new", newKey)

	active, _ := store.List(ctx, req.Subject)
	fmt.Println(len(active), "keys for", req.Subject)

	_ = keys.Revoke(ctx, oldRec.ID) // 3. revoke the old key
	try("old", oldKey)
	try("new", newKey)
	// Output:
	// old      <nil>
	// new      <nil>
	// 2 keys for svc:claims-export
	// old      apikey: api key revoked
	// new      <nil>
}

// IDOf finds the id of a leaked key, so that it can be revoked.
func ExampleIDOf() {
	leaked := "phk_live_k3vq7m2xw4ab_" + strings.Repeat("a", 52) // found in a public repository
	id, err := apikey.IDOf(leaked)
	fmt.Println(id, err) // then: keys.Revoke(ctx, id)
	// Output:
	// k3vq7m2xw4ab <nil>
}
