package authn_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/phikit/phikit/authn"
)

func TestKeyFunctions(t *testing.T) {
	with := func(p *authn.Principal) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if p != nil {
			r = r.WithContext(authn.NewContext(r.Context(), p))
		}
		return r
	}
	tests := []struct {
		name         string
		p            *authn.Principal
		sub, client  string
		subOK, cliOK bool
		apiKey       string // KeyByAPIKey, "" when it reports false
		tenant       string // KeyByTenant, "" when it reports false
	}{
		{name: "a principal with a client", p: &authn.Principal{Issuer: "https://a/", Subject: "u1", ClientID: "app"},
			sub: "sub:https://a/|u1", client: "client:https://a/|app", subOK: true, cliOK: true},
		{name: "another issuer, same subject", p: &authn.Principal{Issuer: "https://b/", Subject: "u1"},
			sub: "sub:https://b/|u1", subOK: true},
		{name: "no principal"},
		{name: "an API key", p: &authn.Principal{Subject: "svc:lab", ClientID: "k7", Method: authn.MethodAPIKey, Tenant: "org-1"},
			sub: "sub:|svc:lab", client: "client:|k7", subOK: true, cliOK: true, apiKey: "apikey:k7", tenant: "tenant:|org-1"},
		{name: "a JWT is not an API key", p: &authn.Principal{Issuer: "https://a/", Subject: "u1", ClientID: "k7", Method: authn.MethodJWT},
			sub: "sub:https://a/|u1", client: "client:https://a/|k7", subOK: true, cliOK: true},
		{name: "a tenant, scoped by issuer", p: &authn.Principal{Issuer: "https://a/", Subject: "u1", Tenant: "org-1"},
			sub: "sub:https://a/|u1", subOK: true, tenant: "tenant:https://a/|org-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, ok := authn.KeyBySubject(with(tt.p))
			if sub != tt.sub || ok != tt.subOK {
				t.Errorf("KeyBySubject = %q, %v; want %q, %v", sub, ok, tt.sub, tt.subOK)
			}
			cli, ok := authn.KeyByClient(with(tt.p))
			if cli != tt.client || ok != tt.cliOK {
				t.Errorf("KeyByClient = %q, %v; want %q, %v", cli, ok, tt.client, tt.cliOK)
			}
			if k, ok := authn.KeyByAPIKey(with(tt.p)); k != tt.apiKey || ok != (tt.apiKey != "") {
				t.Errorf("KeyByAPIKey = %q, %v; want %q", k, ok, tt.apiKey)
			}
			if k, ok := authn.KeyByTenant(with(tt.p)); k != tt.tenant || ok != (tt.tenant != "") {
				t.Errorf("KeyByTenant = %q, %v; want %q", k, ok, tt.tenant)
			}
		})
	}
}
