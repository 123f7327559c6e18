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
