package authn_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit/authn"
)

// FuzzAuthenticate feeds arbitrary Authorization values to a configured authenticator:
// it must never panic, never accept, and always answer with one of its own errors.
func FuzzAuthenticate(f *testing.F) {
	es := newES256(f, "es-1")
	fi := newFakeIssuer(f, es)
	c := &clock{now: t0}
	a := newAuth(f, fi, c, nil)
	valid := sign(f, es, claimsAt(fi.issuer(), t0))
	for _, s := range []string{"Bearer " + valid, "Bearer " + valid + "x", "Bearer a.b.c", "Bearer ....", "Basic x", "Bearer ", "bearer eyJ.eyJ.sig", "Bearer e30.e30.e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", header)
		p, err := a.Authenticate(r)
		if header == "Bearer "+valid {
			return
		}
		if err == nil {
			t.Fatalf("accepted %q as %+v", header, p)
		}
		var ae *authn.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v is not an *authn.Error", err)
		}
	})
}
