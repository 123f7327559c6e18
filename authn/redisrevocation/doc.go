// Package redisrevocation keeps the deny-list of revoked JWT access tokens
// (authn.Revocations) in Redis, so that a token revoked through one replica is refused
// by all of them.
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:        "revocations.internal:6379",
//		DialTimeout: time.Second, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
//	})
//	revocations, err := redisrevocation.New(redisrevocation.Config{Client: rdb})
//	if err != nil {
//		return err
//	}
//	// Where a token is revoked (logout, an administrator, a compromised device):
//	// until is the instant the authenticator refuses the token anyway.
//	err = revocations.Revoke(ctx, p.Issuer, p.TokenID, p.ExpiresAt.Add(leeway))
//	// Where a token is checked, on every replica:
//	revoked, err := revocations.Revoked(ctx, p.Issuer, p.TokenID)
//	if err != nil || revoked {
//		// refuse the request: an error is an unknown answer
//	}
//
// Each call is one command on one key: Revoked is a GET, Revoke an EVALSHA of a short
// script (SET … PXAT unless the entry already lasts longer). Both work on a single Redis,
// behind Sentinel, and on Redis Cluster (a *redis.ClusterClient: one key per call, no
// hash tags needed). Stores on the same Redis with the same Prefix share their entries.
// The conformance suite authn/revocationtest runs against this package on a real Redis.
//
// # Security considerations
//
// Fail closed. Revoked returns an error wrapping ErrRedis whenever it cannot give an
// answer: Redis down or slow past the client's timeouts, the request's context done, a
// key that holds something this package did not write. A caller must then refuse the
// token, so while Redis is unreachable every request checked against it is refused;
// the client's timeouts bound how long each waits. Revocation is therefore an
// availability dependency: give Redis a replica and failover (Sentinel or Cluster). A
// failed Revoke recorded nothing: report it, never claim the token was revoked.
//
// Expiry. An entry keeps the until it was revoked with, and Revoked compares it with
// Config.Now, the same clock as the authenticator's exp check: a revoked token is
// refused until the authenticator refuses it anyway, whatever Redis's clock says. Pass
// the token's exp plus the authenticator's leeway as until, or the token is accepted
// during the leeway. Redis drops the entry a minute after until on its own clock (PXAT),
// which reclaims the space and tolerates that clock being up to a minute ahead. A
// second Revoke never shortens an entry.
//
// Keys. The key is Prefix followed by the hex SHA-256 of the issuer's length, the
// issuer and the jti: the token id never reaches Redis (nor a MONITOR trace or a
// backup), no issuer or jti, however spelled (":", "*", spaces, Unicode, 1 KiB), can
// name another pair's key or a pattern, and every key has the same short length. Errors
// never contain the issuer or the jti.
//
// Redis configuration. Redis must not forget entries on its own: use
// maxmemory-policy noeviction (volatile-* and allkeys-* policies evict revocations
// silently; with noeviction a full Redis refuses Revoke, which fails loudly), and
// persistence (appendonly yes) or replicas, since a restart without them forgets every
// revocation. Anyone who can write under Prefix can revoke any token or erase a
// revocation: restrict the connection with an ACL (GET, EVALSHA, EVAL and, inside the
// script, SET on Prefix*) and TLS. Read from the primary: a lagging replica does not
// know a fresh revocation yet.
package redisrevocation
