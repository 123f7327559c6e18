package authn_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authn/authntest"
)

// A service trusts one issuer; requests reach the handler with their Principal.
func Example() {
	// An issuer for the example: authntest mints ES256 tokens and serves the JWKS.
	mux := http.NewServeMux()
	idp := httptest.NewServer(mux)
	defer idp.Close()
	iss, err := authntest.NewIssuer(idp.URL + "/")
	if err != nil {
		fmt.Println(err)
		return
	}
	mux.Handle("GET /jwks.json", iss.JWKSHandler())

	auth, err := authn.New(authn.Config{
		Issuers: []authn.IssuerConfig{{
			Issuer:            iss.URL(),
			JWKSURL:           iss.URL() + "jwks.json",
			Audiences:         []string{"https://fhir.example.test"},
			Algorithms:        []string{"ES256"},
			InsecureAllowHTTP: authn.IsLoopbackURL(iss.URL()), // the example's issuer is on loopback
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	api := auth.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s, patient %s, scopes %v", p.Subject, p.Patient, p.Scopes)
	}))

	token, _ := iss.Mint(map[string]any{"sub": "patient-user-1", "aud": "https://fhir.example.test",
		"patient": "pat-1", "scope": "patient/Observation.rs"})
	for _, auth := range []string{"Bearer " + token, "Bearer " + token[:len(token)-4] + "AAAA", ""} {
		r := httptest.NewRequest(http.MethodGet, "/fhir/Observation?patient=pat-1", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))))
		if w.Code == http.StatusOK {
			fmt.Println(w.Body.String())
		}
	}
	// Output:
	// 200
	// hello patient-user-1, patient pat-1, scopes [patient/Observation.rs]
	// 401 Bearer error="invalid_token"
	// 401 Bearer
}
