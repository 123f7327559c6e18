// Package redisstore keeps idempotency records in Redis, so that a retried request is
// recognized by every replica behind a load balancer, whichever one it reaches.
//
// Wiring:
//
//	client := redis.NewClient(&redis.Options{ // or redis.NewClusterClient
//		Addr:      "redis:6379",
//		Username:  "clinic-idempotency",
//		Password:  os.Getenv("REDIS_PASSWORD"),
//		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12},
//	})
//	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "clinic:idem:"})
//	if err != nil {
//		return err
//	}
//	// Hand store to the idempotency middleware's Config.Store.
//
// Each record is one Redis hash at Prefix + key, so every call touches one key and the
// store is safe on Redis Cluster without hash tags. Claim, Complete and Release are one
// Lua script each, sent with EVALSHA (and again with EVAL when Redis answers NOSCRIPT,
// after a restart or SCRIPT FLUSH): one round trip to claim a key and one to complete
// it, and a replay is one round trip. The script reads the record and, when there is
// none or it is no longer live, writes the claim, atomically: of any number of
// concurrent Claims of one key, one is acquired. It needs Redis 4 or later (tested on
// 7).
//
// Time comes from the caller (the middleware's Config.Now), never from the Redis
// server: a record is live while its end (the lease's, then the keep time's) is after
// the caller's now, compared to the nanosecond. The Redis expiry of the key only
// collects garbage: it is set relative to the write (PEXPIRE), to the time the record
// stays live plus ExpiryMargin, so an offset between the server's clock and the
// replicas' does not shorten a record's life.
//
// # Security considerations
//
// Stored responses are PHI. The middleware seals them (an AEAD, with the record's key
// as additional data) before calling Complete, and this package stores the sealed bytes
// as given; it never sees a plaintext response. Still, the records say which
// principals made which requests when: protect the Redis with ACLs (a user allowed
// EVALSHA, EVAL and the hash commands on the prefix only), TLS on any network that is
// not the host's loopback (Options.TLSConfig, or a rediss:// URL), and encrypted,
// access-controlled persistence and backups. Anyone who can write to the Redis can
// delete a record or a lease and so let a request run twice (a sealed response copied
// to another key does not open: it is sealed with its own key).
//
// Keys: the middleware passes keys that are already scoped by principal, method and
// route and hashed, so neither the Idempotency-Key a client chose nor a principal
// appears in Redis in clear; this package only prepends Prefix. A Store used directly
// must be given hashed keys too. Stores with the same Prefix on the same Redis share
// their records; give each service its own Prefix.
//
// Failures fail closed: when Redis is unreachable, slower than the context allows, or
// holds a value at a key that this package did not write, every method returns an error
// and the middleware refuses the request rather than run it unprotected. Set the
// client's timeouts (DialTimeout, ReadTimeout) and MaxRetries low. Errors name the
// operation and Redis's own error, never a key, token, fingerprint or response.
//
// Durability: a record acknowledged by a Redis primary that then fails before
// replicating it is lost, and a retry of that request may run again. Where that matters
// more than latency, use package pgstore, or Redis with WAIT or AOF fsync always.
package redisstore
