package authn

import "net/http"

// KeyBySubject is a key function for package ratelimit (and idempotency): the
// authenticated caller, as issuer and subject, so that two issuers' subjects never share
// a limit. It reports false for a request without a Principal (put it inside Handler).
func KeyBySubject(r *http.Request) (string, bool) {
	p, ok := FromContext(r.Context())
	if !ok || p.Subject == "" {
		return "", false
	}
	return "sub:" + p.Issuer + "|" + p.Subject, true
}

// KeyByClient is a key function for package ratelimit: the OAuth client (a SMART app)
// that obtained the caller's token, as issuer and client id. It reports false without a
// Principal or a client id.
func KeyByClient(r *http.Request) (string, bool) {
	p, ok := FromContext(r.Context())
	if !ok || p.ClientID == "" {
		return "", false
	}
	return "client:" + p.Issuer + "|" + p.ClientID, true
}

// KeyByAPIKey is a key function for package ratelimit: the API key the caller presented,
// by its public id (never the secret), so each key has its own limit even when several
// share a subject. It reports false unless the caller authenticated with an API key
// (package apikey).
func KeyByAPIKey(r *http.Request) (string, bool) {
	p, ok := FromContext(r.Context())
	if !ok || p.Method != MethodAPIKey || p.ClientID == "" {
		return "", false
	}
	return "apikey:" + p.ClientID, true
}

// KeyByTenant is a key function for package ratelimit: the caller's tenant
// (Principal.Tenant, from the issuer's TenantClaim or the API key's record), scoped by
// issuer, so that all the users and apps of one organisation share one limit or quota.
// It reports false without a Principal or a tenant.
func KeyByTenant(r *http.Request) (string, bool) {
	p, ok := FromContext(r.Context())
	if !ok || p.Tenant == "" {
		return "", false
	}
	return "tenant:" + p.Issuer + "|" + p.Tenant, true
}
