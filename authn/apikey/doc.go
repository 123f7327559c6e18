// Package apikey authenticates service callers that cannot do OAuth — a lab interface
// engine, a nightly claims export — with API keys: shown once, stored only as keyed
// hashes, each bound to a subject, scopes, address ranges, an environment and an expiry,
// and revocable.
//
//	keys, err := apikey.New(apikey.Config{
//		Store:  store,  // a durable Store; NewMemoryStore for tests
//		Pepper: pepper, // ≥ 32 random bytes from your secret manager, never from the store
//		Env:    "live",
//	})
//	if err != nil {
//		return err
//	}
//	mux.Handle("POST /fhir/Observation", keys.Handler(createObservation))
//
// Issuing a key (an admin tool, not a request path):
//
//	key, rec, err := keys.Issue(ctx, apikey.IssueRequest{
//		Name:         "Quest results feed",
//		Subject:      "svc:quest-interface",
//		Scopes:       []string{"system/Observation.c"},
//		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
//		TTL:          90 * 24 * time.Hour,
//	})
//	// Hand key to the caller's secret store now: it cannot be shown again.
//	// rec.ID names the key from here on.
//
// In a handler, the caller is an authn.Principal:
//
//	p, _ := authn.FromContext(r.Context())
//	// p.Method == authn.MethodAPIKey, p.Subject == "svc:quest-interface",
//	// p.ClientID == rec.ID, p.Scopes == []string{"system/Observation.c"}
//
// # Keys
//
// A key reads phk_<env>_<id>_<secret>, for example
//
//	phk_live_h4xq2m7tkz3a_<52 characters of base32>
//
// env is the environment the key belongs to; id, 12 base32 characters, is public: it
// names the key in the store, in audit events (Agent.Client), in logs and in Revoke;
// secret is 32 bytes from crypto/rand. The store keeps HMAC-SHA-256(pepper, key) and the
// metadata in Record; the key itself exists only in Issue's result and in the caller's
// hands. The phk_ prefix lets secret scanners find keys pasted where they should not be;
// IDOf returns the id of such a key, to revoke it.
//
// # Verification
//
// A key travels in one header of its own, X-API-Key by default. Before the store is
// asked, the value must be at most MaxKeyBytes (128) and well formed, the header must
// appear once, and the key's environment must be Config.Env. Then its HMAC is computed,
// the record fetched by id, and the hashes compared with hmac.Equal; an id that is not
// in the store costs the same HMAC and comparison as one that is (the store's own
// lookup may not: see below). Only for a caller holding the exact key are revocation,
// expiry and the caller's address checked. Every refusal gets the same answer: 401, a
// problem.Unauthenticated body and the challenge
//
//	WWW-Authenticate: ApiKey header="X-API-Key"
//
// Which check failed goes only to the audit event's Rejection ("apikey.revoked", …, see
// Error.Reason). A failing store is a 503 (fail closed).
//
// Why not "Authorization: ApiKey …": package authn owns the Authorization header and
// refuses schemes other than Bearer, so a service that takes both bearer tokens and API
// keys would have two middlewares fighting over one header; and "ApiKey" is not a
// registered HTTP authentication scheme. The WWW-Authenticate challenge above is sent
// anyway, because RFC 9110 requires one on every 401; clients ignore schemes they do not
// know, and browsers show no login dialog for it.
//
// # Rotation
//
// A subject may have several active keys, so a key is replaced without downtime:
//
//  1. Issue a new key for the same Subject (Store.List shows the subject's keys).
//  2. Deploy it to the caller and confirm that requests arrive with the new id
//     (Agent.Client in the audit trail).
//  3. Revoke the old key's id.
//
// Rotate before ExpiresAt: keys are never renewed in place, and MaxLifetime (365 days
// by default) bounds every key.
//
// # Revocation
//
// Revoke takes effect on the next request: every request reads the record from the
// store, with no cache. Revocation cannot be undone; issue a new key instead. A revoked
// key's record stays in the store (List shows it) as the history of who held what.
//
// # Security considerations
//
// The pepper is the root of trust: with it and a copy of the store, an attacker can test
// guesses offline (hopeless against 256-bit secrets, but keep it so); without it the
// hashes in the store verify nothing, so a leaked database or backup yields no usable
// key. Keep the pepper in a KMS or secret manager, never in the database or the
// repository, and give each environment its own. Changing the pepper invalidates every
// key: there is no pepper rotation yet.
//
// The key never appears in an error, a log line, an audit event or a Record: Record
// prints and logs with its Hash redacted, and errors name at most the key id. The key
// header is not Authorization, which proxies, APM agents and HTTP logging middleware
// often redact by default: add X-API-Key (or your Config.Header) to their redaction
// lists. Keys in URLs are never read; tell callers not to put them there.
//
// AllowedCIDRs are only as good as the address they are compared with. Behind a reverse
// proxy, RemoteAddr is the proxy's address: set Config.ClientIP to a resolver that
// trusts X-Forwarded-For only from your proxies, or every key allowed from the proxy's
// range is allowed from anywhere. When the address cannot be determined, keys are
// refused.
//
// Timing: the HMAC and comparison cost the same for every well-formed key, but the
// store's Get may answer faster for an unknown id than for a known one (MemoryStore: by
// about 0.1 µs, the copy of a found record; a database: an index miss). That reveals at
// most whether an id exists — ids are public, and 60 random bits cannot be enumerated —
// never anything about a secret, which never reaches the store.
//
// A key's Subject lands in Principal.Subject, the field that holds a token's sub: pick
// subjects that cannot collide with your identity provider's ("svc:" followed by a
// name), and let authorization policies that care check Principal.Method.
//
// Keys are bearer credentials: anyone holding one is its subject until it is revoked or
// expires. Serve only over TLS, keep TTLs short for high-privilege scopes, and rate-limit
// by client address in front of this middleware so that guessing costs the guesser.
// MemoryStore is for tests and development: its keys vanish on restart.
package apikey
