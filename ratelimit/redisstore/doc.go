// Package redisstore keeps ratelimit limits in Redis, so that replicas behind a load
// balancer enforce one shared limit.
//
// Wiring:
//
//	client := redis.NewClient(&redis.Options{Addr: "redis:6379"}) // or redis.NewClusterClient
//	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "myapp:ratelimit:"})
//	limiter, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 10, Burst: 20})
//	mw, err := ratelimit.New(ratelimit.Config{
//		Limiter: limiter, // the limit, and the local fallback
//		Store:   store,
//	})
//	http.ListenAndServe(addr, mw.Handler(mux))
//
// Each decision is one round trip: EVALSHA of a Lua script computing GCRA (the generic
// cell rate algorithm) with the Redis server's clock (TIME), so clock skew between
// replicas does not matter; on NOSCRIPT (a restarted or flushed Redis) the script is sent
// again with EVAL. A decision touches one key, so it is safe on Redis Cluster without
// hash tags. The key holds the theoretical arrival time, in microseconds, and expires
// when that time passes: an idle key costs nothing.
//
// # Security considerations
//
// Keys: the Redis key is Prefix plus the hex SHA-256 of the limiter key, so client
// addresses, subjects and API keys are not stored in Redis in clear, any byte string is a
// safe key (no injection into the key space, no hash-tag games with "{…}"), and keys have
// a fixed length.
//
// Sharing: stores with the same Prefix on the same Redis share their limits; give each
// policy its own Prefix unless they are meant to share. Anyone who can write to the Redis
// can reset or exhaust any limit: protect it with ACLs (a user allowed EVALSHA, EVAL, GET
// and SET on the prefix only) and TLS on untrusted networks.
//
// Failures: when Redis is unreachable Allow returns an error and the ratelimit
// middleware applies Config.OnStoreError; the default, FallbackLocal, keeps a per-process
// limit rather than none. Set the client's timeouts (DialTimeout, ReadTimeout) and
// MaxRetries low: a rate limiter that waits seconds for a dead Redis is itself a denial
// of service.
//
// Precision: durations come back in whole microseconds, rounded up; rates above 10⁶ per
// second lose precision.
package redisstore
