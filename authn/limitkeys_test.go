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
	}{
		{name: "a principal with a client", p: &authn.Principal{Issuer: "https://a/", Subject: "u1", ClientID: "app"},
			sub: "sub:https://a/|u1", client: "client:https://a/|app", subOK: true, cliOK: true},
		{name: "another issuer, same subject", p: &authn.Principal{Issuer: "https://b/", Subject: "u1"},
			sub: "sub:https://b/|u1", subOK: true},
		{name: "no principal"},
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
		})
	}
}
