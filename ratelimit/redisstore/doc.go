// Package redisstore keeps ratelimit limits and quotas in Redis, so that replicas
// behind a load balancer enforce one shared limit: [Store] is a ratelimit.Store (GCRA)
// and [QuotaStore] a ratelimit.QuotaStore (counters per calendar window).
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
// A quota store is wired the same way:
//
//	quotas, err := redisstore.NewQuotaStore(redisstore.QuotaConfig{Client: client, Prefix: "myapp:ratelimit:"})
//	count, allowed, err := quotas.Spend(ctx, "tenant-7:2026-11", 1, 10000, endOfMonth)
//
// Each decision is one round trip: EVALSHA of a Lua script computing GCRA (the generic
// cell rate algorithm) with the Redis server's clock (TIME), so clock skew between
// replicas does not matter; on NOSCRIPT (a restarted or flushed Redis) the script is sent
// again with EVAL. A decision touches one key, so it is safe on Redis Cluster without
// hash tags. The key holds the theoretical arrival time, in microseconds, and expires
// when that time passes: an idle key costs nothing.
//
// A quota spend is one round trip too: a Lua script reads the counter, refuses when
// count+cost would pass the limit (reporting the count unchanged), and otherwise adds
// cost (INCRBY) and sets the key to expire at the end of its window (PEXPIREAT, on the
// server's clock, in milliseconds). Costs of zero or less only report; costs above the
// limit are refused. Limits go up to [MaxQuotaLimit], 2⁵³−1, the integers Lua
// numbers hold exactly.
//
// # Redis Cluster
//
// Pass a *redis.ClusterClient as Client; nothing else changes. Every decision and every
// spend reads and writes exactly one key, so there are no CROSSSLOT errors and no hash
// tags are needed: the keys spread over the masters by their hash, and the load with
// them. Scripts are loaded on each master on first use (NOSCRIPT falls back to EVAL
// there). The tests run both conformance suites against a real three-master cluster.
// During a failover a decision may fail (the middleware then applies
// Config.OnStoreError) or, with asynchronous replication, a promoted replica may have
// missed the last writes: a limit or quota may briefly allow a little more than it
// should. A ratelimit.Store and a QuotaStore may share a prefix: quota keys carry a
// "quota:" infix, so the two never meet.
//
// # Security considerations
//
// Keys: the Redis key is Prefix (plus "quota:" for a QuotaStore) and the hex SHA-256 of
// the limiter or quota key, so client addresses, subjects and API keys are not stored in
// Redis in clear, any byte string is a safe key (no injection into the key space, no
// hash-tag games with "{…}"), and keys have a fixed length.
//
// Sharing: stores with the same Prefix on the same Redis share their limits; give each
// policy its own Prefix unless they are meant to share. Anyone who can write to the Redis
// can reset or exhaust any limit or quota: protect it with ACLs (a user allowed EVALSHA,
// EVAL, TIME, and GET, SET, INCRBY and PEXPIREAT on the prefix only; the scripts' own
// calls are checked too, and the rate-limit script reads TIME) and TLS on untrusted
// networks.
//
// Failures: a quota key holding something other than a count is an error, never an
// allowed spend. When Redis is unreachable Allow returns an error and the ratelimit
// middleware applies Config.OnStoreError; the default, FallbackLocal, keeps a per-process
// limit rather than none. Set the client's timeouts (DialTimeout, ReadTimeout) and
// MaxRetries low: a rate limiter that waits seconds for a dead Redis is itself a denial
// of service.
//
// Precision: durations come back in whole microseconds, rounded up; rates above 10⁶ per
// second lose precision. Quota windows end on whole milliseconds (expireAt truncated).
//
// Clocks: decisions use the Redis server's clock, never the caller's, except for a
// quota's expireAt, which the caller computes (the end of its window). Keep replicas'
// clocks synchronised (NTP) so that windows end when they should. A zero expireAt is
// refused as an error; one already past allows the spend but keeps no count, so a caller
// whose clock ran ahead of the server's by more than a window would not be limited.
package redisstore
