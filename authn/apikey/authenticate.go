package apikey

import (
	"crypto/hmac"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/internal/logattr"
	"github.com/phikit/phikit/internal/netaddr"
	"github.com/phikit/phikit/problem"
)

// Authenticate verifies the key r carries and returns the caller. Errors are this
// package's *Error values, or a *StoreError when the store fails.
//
// The key is read from the configured header only; more than one such header is
// refused. In order:
//
//  1. the value's length (at most MaxKeyBytes) and syntax are checked, and its
//     environment compared with Config.Env — none of this touches the store;
//  2. the key's HMAC is computed, the record looked up by id, and the two hashes compared
//     in constant time; an unknown id costs the same HMAC and comparison as a known one;
//  3. only for the holder of the exact key: revocation, expiry, the record's environment,
//     and the caller's address against AllowedCIDRs.
func (k *Keys) Authenticate(r *http.Request) (*authn.Principal, error) {
	rec, err := k.check(r)
	if err != nil {
		return nil, err
	}
	return principal(rec), nil
}

// principal returns the caller a verified record stands for.
func principal(rec Record) *authn.Principal {
	return &authn.Principal{
		Subject:   rec.Subject,
		ClientID:  rec.ID,
		Tenant:    rec.Tenant,
		Scopes:    rec.Scopes,
		ExpiresAt: rec.ExpiresAt,
		Method:    authn.MethodAPIKey,
	}
}

// check is Authenticate returning the record. On failure the record is zero, except for
// its ID when the caller proved it holds the key (see verify).
func (k *Keys) check(r *http.Request) (Record, error) {
	values := r.Header[k.header]
	switch len(values) {
	case 0:
		return Record{}, ErrNoKey
	case 1:
	default:
		return Record{}, ErrMultipleKeys
	}
	key := values[0]
	env, id, err := parse(key)
	if err != nil {
		return Record{}, err
	}
	if env != k.env {
		return Record{}, ErrWrongEnvironment
	}
	return k.verify(r, key, id)
}

// verify looks up the well-formed key with this id and checks it. The returned record
// is valid only when err is nil; when err is one of the checks after the hash matched,
// its ID is set so the audit event can name the key.
func (k *Keys) verify(r *http.Request, key, id string) (Record, error) {
	sum := k.mac(key) // before the lookup, whatever it finds
	rec, err := k.store.Get(r.Context(), id)
	if err != nil {
		hmac.Equal(sum[:], k.dummy[:]) // the same work as a comparison with a real hash
		if errors.Is(err, ErrNotFound) {
			return Record{}, ErrUnknownKey
		}
		return Record{}, &StoreError{Err: err}
	}
	if !hmac.Equal(sum[:], rec.Hash) || rec.ID != id {
		return Record{}, ErrUnknownKey
	}
	// The caller holds the key: from here on the reason may be recorded with the id.
	now := k.now()
	switch {
	case rec.Revoked(now):
		return Record{ID: rec.ID}, ErrKeyRevoked
	case rec.Expired(now): // a zero ExpiresAt is long past
		return Record{ID: rec.ID}, ErrKeyExpired
	case rec.Env != k.env:
		return Record{ID: rec.ID}, ErrWrongEnvironment
	}
	addr, ok := k.clientIP(r)
	if !ok || !allowed(addr, rec.AllowedCIDRs) {
		return Record{ID: rec.ID}, ErrAddressNotAllowed
	}
	return rec, nil
}

// allowed reports whether addr is in one of cidrs. No cidrs allows nothing.
func allowed(addr netip.Addr, cidrs []netip.Prefix) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range cidrs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// remoteAddr is the default ClientIP: the connection's peer.
func remoteAddr(r *http.Request) (netip.Addr, bool) { return netaddr.Peer(r.RemoteAddr) }

// Handler wraps next: requests whose key authenticates reach it with their Principal in
// the context (authn.FromContext; Method authn.MethodAPIKey, ClientID the key id) and
// recorded in the audit event (Agent.Subject, Agent.Client = key id, Agent.AuthMethod
// "api-key"). The others are answered by the ErrorHandler, and the audit event records
// the reason in Rejection ("apikey.revoked", …) and, when the caller proved it holds the
// key (revoked, expired, address not allowed), the key id in Agent.Client.
func (k *Keys) Handler(next http.Handler) http.Handler {
	if next == nil {
		panic("apikey: Handler: next is nil")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec, err := k.check(r)
		if err != nil {
			k.reject(w, r, err, rec.ID)
			return
		}
		p := principal(rec)
		audit.Annotate(r.Context(), func(e *audit.Event) {
			e.Agent.Subject = p.Subject
			e.Agent.Client = p.ClientID
			e.Agent.AuthMethod = string(p.Method)
		})
		next.ServeHTTP(w, r.WithContext(authn.NewContext(r.Context(), p)))
	})
}

// reject records why r failed in its audit event (with the key id when the caller
// proved it holds the key), logs a store failure, and has the ErrorHandler answer.
func (k *Keys) reject(w http.ResponseWriter, r *http.Request, err error, id string) {
	var se *StoreError
	if errors.As(err, &se) {
		k.logger.LogAttrs(r.Context(), slog.LevelError, "apikey: key store failed", logattr.Error(se.Err))
	}
	audit.Annotate(r.Context(), func(e *audit.Event) {
		e.Rejection = reason(err)
		if id != "" {
			e.Agent.Client = id
		}
	})
	k.onError(w, r, err)
}

// writeError is the default ErrorHandler.
func (k *Keys) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	var se *StoreError
	switch {
	case errors.As(err, &e):
		w.Header().Set("WWW-Authenticate", k.challenge)
		problem.Write(w, r, problem.Unauthenticated)
	case errors.As(err, &se):
		w.Header().Set("Retry-After", "5")
		problem.Write(w, r, problem.Unavailable)
	default:
		problem.Write(w, r, problem.Internal)
	}
}
