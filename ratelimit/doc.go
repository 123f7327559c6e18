// Package ratelimit limits how much a caller may do: a GCRA rate limiter kept in memory,
// a client-address resolver that trusts forwarded headers only from your proxies, and
// net/http middleware that answers 429 with the IETF RateLimit fields.
//
// Wiring:
//
//	resolver, err := ratelimit.NewResolver(ratelimit.ResolverConfig{
//		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, // your load balancers
//	})
//	limiter, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 10, Burst: 20})
//	mw, err := ratelimit.New(ratelimit.Config{
//		Limiter:  limiter,
//		Resolver: resolver,
//		Policy:   "per-address",
//	})
//	http.ListenAndServe(addr, mw.Handler(mux))
//
// Every response then carries
//
//	RateLimit-Policy: "per-address";q=20;w=2
//	RateLimit: "per-address";r=19;t=1
//
// (draft-ietf-httpapi-ratelimit-headers-10: q is the quota, the burst; w the window in
// seconds, the time an idle key takes to get its whole burst back; r the remaining quota
// and t the seconds until the quota is back), and a refused request gets 429 with a
// problem+json body (problem.RateLimited), Retry-After in whole seconds rounded up, and
// "ratelimit.exceeded" in its audit event.
//
// # Security considerations
//
// Trusted proxies: with no TrustedProxies the resolver uses the TCP peer and ignores
// X-Forwarded-For and Forwarded, which any client can write. With them, it walks the
// header from the right and takes the first hop that is not a trusted proxy; it never
// takes the leftmost hop on trust (the spoofable choice of several Go limiters). List
// only addresses of proxies you run, and make sure they append to the header.
//
// IPv6: addresses are grouped by /64 ([Key]), since one subscriber usually gets a whole
// /64 and could otherwise take a fresh limit with every request.
//
// No echo: responses never contain the client address or the key, only the policy name,
// which is fixed at configuration.
//
// Memory: the limiter tracks at most MaxKeys keys (100 000 by default, about 80 bytes
// each plus the key); when full it forgets the least recently used, which can give that
// key back at most a full burst (see [Limiter]).
//
// Memory only, for now: limits are per process. Behind a load balancer with N replicas a
// client can get up to N times the limit until the Redis store lands.
package ratelimit
