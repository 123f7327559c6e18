// Package ratelimit limits how much a caller may do: a GCRA rate limiter kept in memory
// or, through the [Store] interface, in Redis (package redisstore), a client-address
// resolver that trusts forwarded headers only from your proxies, and
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
// # Keys, costs and quotas
//
// Config.Key counts requests under something other than the client address: put the
// middleware inside authentication and use authn.KeyBySubject, KeyByClient (the SMART
// app), KeyByAPIKey or KeyByTenant; a request without such a key is counted under its
// address, never waved through. Config.Cost charges by route — [RouteCosts] takes
// ServeMux patterns, and [FHIRCosts] is a starting map for a FHIR API (a search costs
// more than a read, a bulk $export much more):
//
//	costs := ratelimit.FHIRCosts("/fhir")
//	costs["GET /fhir/{type}"] = 2 // your searches are cheap
//	cost, err := ratelimit.RouteCosts(1, costs)
//	perUser, err := ratelimit.New(ratelimit.Config{
//		Limiter: limiter,
//		Key:     authn.KeyBySubject,
//		Cost:    cost,
//		Policy:  "per-user",
//		Quotas:  []ratelimit.Quota{{Name: "daily", Limit: 10_000, Period: ratelimit.Day}},
//	})
//	mux.Handle("/fhir/", auth.Handler(perUser.Handler(fhir)))
//
// Config.Quotas are allowances per calendar day or month (in Config.Location, UTC by
// default) next to the rate limit, counted under the same key and cost; the fields then
// list every policy:
//
//	RateLimit-Policy: "per-user";q=20;w=2, "daily";q=10000;w=86400
//	RateLimit: "per-user";r=19;t=1, "daily";r=9999;t=43200
//
// A request a quota refuses gets 429 with Retry-After at the end of the window and
// "ratelimit.quota-exceeded" in its audit event. Quota counters are kept in a
// MemoryQuotaStore, or with Config.Store in Config.QuotaStore (redisstore's), which is
// then required so that replicas never each grant the whole quota.
//
// # Shared limits and store failures
//
// With Config.Store set (redisstore.Store, or your own: ratelimittest.RunStoreTests checks
// it), replicas share one limit; Config.Limiter still gives the limit (Limiter.Limit) and
// is the local fallback:
//
//	store, err := redisstore.New(redisstore.Config{Client: redisClient})
//	mw, err := ratelimit.New(ratelimit.Config{
//		Limiter: limiter,
//		Store:   store,
//		// OnStoreError: ratelimit.FallbackLocal (the zero value), FailClosed or InsecureFailOpen.
//	})
//
// When the store returns an error (each call is bounded by StoreTimeout), OnStoreError
// decides: FallbackLocal decides with Limiter in this process (each replica then grants
// the full limit on its own), FailClosed answers 503 (problem.Unavailable) with
// Retry-After and "ratelimit.unavailable" in the audit event, InsecureFailOpen lets the
// request through unlimited. A panicking store counts as an error. The first failure is
// logged to Config.Logger, and the recovery; not every request. After BreakerThreshold
// consecutive errors a circuit breaker skips the store for BreakerCooldown (on
// Config.Now) and applies OnStoreError directly, so a dead Redis is not hammered and
// requests do not each wait for a timeout; after it, requests try the store again.
//
// # Adaptive concurrency
//
// A [Concurrency] limiter bounds the requests in flight and moves the bound with the
// latency it observes, so that an overloaded service sheds load early instead of
// queueing until it falls over:
//
//	conc, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{
//		MinLimit: 10,  // what the service must keep serving, even under attack
//		MaxLimit: 200, // never more at once than this
//	})
//	handler := perAddress.Handler(auth.Handler(perUser.Handler(conc.Handler(mux))))
//
// Each SampleWindow (1s) it compares the average latency of the requests that finished
// with a slowly moving baseline: above LatencyTolerance (2) times the baseline, or with
// more than a tenth of requests dropped (5xx, timeouts, panics), the limit shrinks by
// up to half; otherwise, when the limit was in use, it grows by its square root, never
// leaving [MinLimit, MaxLimit]. A request beyond the limit gets 503
// (problem.Unavailable) with Retry-After (RetryAfter, 1s) and "ratelimit.overloaded"
// in its audit event. Limit and InFlight report the state for dashboards; Acquire and
// Permit.Release serve code that is not an http.Handler.
//
// # Security considerations
//
// Trusted proxies: with no TrustedProxies the resolver uses the TCP peer and ignores
// X-Forwarded-For and Forwarded, which any client can write. With them, it walks the
// header from the right and takes the first hop that is not a trusted proxy; it never
// takes the leftmost hop on trust (the spoofable choice of several Go limiters). List
// only addresses of proxies you run, and make sure they append to the header. Let no
// middleware before this one rewrite RemoteAddr from a header: the peer is read only as
// net/http writes it, "ip:port" (the rule of every phikit package), and a request whose
// RemoteAddr is anything else, a bare IP included, is counted under one shared key,
// "ip:unknown".
//
// IPv6: addresses are grouped by /64 ([Key]), since one subscriber usually gets a whole
// /64 and could otherwise take a fresh limit with every request.
//
// No echo: responses never contain the client address or the key, only the policy name,
// which is fixed at configuration.
//
// Costs: a cost above the burst is always refused, so keep the costliest route within
// it. RouteCosts charges a path that is not clean ("/fhir/Patient/../$export") as
// cleaned, whatever your router does with it.
//
// Quotas: a quota counter cannot be forgotten early without giving its key the whole
// quota back, so a full MemoryQuotaStore refuses new keys (ErrQuotaStoreFull, then
// OnStoreError, or 503 when it is the only store) rather than evict. A client who can
// mint keys (addresses, above all IPv6 /64s) could fill it and shut new clients out
// until the window ends: key quotas by an authenticated principal or tenant, and size
// the store (Config.QuotaStore, MemoryQuotaStoreConfig.MaxKeys) for your callers. Windows follow the
// servers' clocks: keep them in sync (NTP).
//
// Adaptive concurrency: latency is measured from admission until the handler returns,
// so slow uploads and downloads count as a slow service; set http.Server's ReadTimeout
// and WriteTimeout. A caller who can make requests slow or fail can lower the limit
// for everyone, though never below MinLimit: put the per-address and per-principal rate
// limits in front of it, and set MinLimit to the concurrency the service must keep. A
// client that hangs up sooner than the tolerated latency does not count against it.
//
// Memory: the limiter tracks at most MaxKeys keys (100 000 by default, about 40–50 bytes
// each plus the key); when full it forgets the least recently used, which can give that
// key back at most a full burst (see [Limiter]).
//
// Per process by default: without Config.Store, limits are per process, and behind a load
// balancer with N replicas a client can get up to N times the limit. The same holds with
// a Store under FallbackLocal while the store is failing; choose FailClosed where that
// matters more than availability, and InsecureFailOpen only where the limit is a
// courtesy.
package ratelimit
