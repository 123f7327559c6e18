package apikey

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Config configures Keys.
type Config struct {
	// Store keeps the key records. Required. NewMemoryStore is for tests and development.
	Store Store
	// Pepper is the server secret every key is hashed under (HMAC-SHA-256): at least 32
	// random bytes. Required. Keep it in a KMS or secret manager, apart from the store:
	// a copy of the store without the pepper verifies nothing. Changing it invalidates
	// every key. New copies it.
	Pepper []byte
	// Env is the environment this service runs in: 1 to 8 lowercase letters, such as
	// "live" or "test". Required. Keys are issued for it, and keys of any other
	// environment are refused (ErrWrongEnvironment) before the store is asked.
	Env string
	// MaxLifetime is the longest lifetime Issue grants, and the lifetime of a key whose
	// IssueRequest.TTL is zero. Zero means 365 days. Every key expires.
	MaxLifetime time.Duration
	// Header is the request header that carries the key. Empty means "X-API-Key".
	// Authorization, Proxy-Authorization and Cookie are refused: keys travel in a
	// header of their own (see the package documentation).
	Header string
	// ClientIP returns the caller's address, checked against each key's AllowedCIDRs; ok
	// false refuses the key (ErrAddressNotAllowed). Nil means the connection's peer
	// (Request.RemoteAddr). Behind a reverse proxy or load balancer that is the proxy:
	// pass a resolver that trusts forwarded headers only from your proxies' addresses
	// (package ratelimit's trusted-proxy resolver, once it exists). IPv4-mapped IPv6
	// addresses are compared as IPv4, and zones are ignored.
	ClientIP func(*http.Request) (netip.Addr, bool)
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives operational messages: a failing store, a key issued or revoked (by
	// id and subject). Never a key, a secret or a hash. Nil means they are discarded.
	Logger *slog.Logger
	// ErrorHandler answers requests that fail authentication; err is one of this
	// package's *Error values or a *StoreError. Nil means a 401 problem
	// (problem.Unauthenticated) with "WWW-Authenticate: ApiKey header=<Header>" for
	// every *Error alike, and a 503 problem (problem.Unavailable) with Retry-After for a
	// *StoreError. It must not write err.Error() or anything from the request.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
}
