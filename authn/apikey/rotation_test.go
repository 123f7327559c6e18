package apikey_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/phikit/phikit/authn/apikey"
)

// The documented rotation: issue a new key for the subject, deploy it (both keys work),
// revoke the old one (only the new one works).
func TestRotation(t *testing.T) {
	c := newClock()
	store := apikey.NewMemoryStore()
	k := newKeys(t, store, "live", c, nil)
	req := apikey.IssueRequest{Subject: "svc:claims-export", Scopes: []string{"system/Claim.rs"}, AllowedCIDRs: cidrs("10.0.0.0/8")}
	oldKey, oldRec := issue(t, k, req)

	c.Advance(300 * 24 * time.Hour) // the old key nears its expiry
	newKey, newRec := issue(t, k, req)

	type step struct {
		name    string
		key     string
		wantErr error // nil means allowed
		wantID  string
	}
	check := func(steps []step) {
		t.Helper()
		for _, st := range steps {
			p, err := k.Authenticate(request("10.1.2.3:1", st.key))
			if !errors.Is(err, st.wantErr) {
				t.Errorf("%s: got error %v, want %v", st.name, err, st.wantErr)
				continue
			}
			if err == nil && (p.Subject != req.Subject || p.ClientID != st.wantID) {
				t.Errorf("%s: got subject %q, client %q; want %q, %q", st.name, p.Subject, p.ClientID, req.Subject, st.wantID)
			}
		}
	}
	check([]step{
		{"during rotation, old key", oldKey, nil, oldRec.ID},
		{"during rotation, new key", newKey, nil, newRec.ID},
	})

	list, err := store.List(context.Background(), req.Subject)
	if err != nil || len(list) != 2 || list[0].ID != oldRec.ID || list[1].ID != newRec.ID {
		t.Fatalf("List: got %v, %v; want the old key then the new one", list, err)
	}
	for _, rec := range list {
		if !rec.Active(c.Now()) {
			t.Errorf("%s: not active during rotation", rec.ID)
		}
	}

	c.Advance(time.Hour)
	if err := k.Revoke(context.Background(), oldRec.ID); err != nil {
		t.Fatal(err)
	}
	check([]step{
		{"after revoking, old key", oldKey, apikey.ErrKeyRevoked, ""},
		{"after revoking, new key", newKey, nil, newRec.ID},
	})
}
