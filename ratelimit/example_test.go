package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/phikit/phikit/ratelimit"
)

func Example() {
	// A fixed clock, so the output is stable.
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	resolver, err := ratelimit.NewResolver(ratelimit.ResolverConfig{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		panic(err)
	}
	limiter, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 1, Burst: 2, Now: now})
	if err != nil {
		panic(err)
	}
	mw, err := ratelimit.New(ratelimit.Config{Limiter: limiter, Resolver: resolver, Policy: "per-address"})
	if err != nil {
		panic(err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	for i := range 3 {
		req := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
		req.RemoteAddr = "10.0.0.7:443"                             // the load balancer
		req.Header.Set("X-Forwarded-For", "192.0.2.1, 203.0.113.9") // spoofed, then real
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%d %d RateLimit: %s Retry-After: %q\n", i+1, rec.Code, rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	fmt.Println(policyOf(h))
	// Output:
	// 1 200 RateLimit: "per-address";r=1;t=1 Retry-After: ""
	// 2 200 RateLimit: "per-address";r=0;t=2 Retry-After: ""
	// 3 429 RateLimit: "per-address";r=0;t=1 Retry-After: "1"
	// "per-address";q=2;w=2
}

func policyOf(h http.Handler) string {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "198.51.100.1:1"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Header().Get("RateLimit-Policy")
}

func ExampleLimiter_Allow() {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 2, Burst: 4, Now: func() time.Time { return clock }})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%+v\n", l.Allow("client-a", 3))
	fmt.Printf("%+v\n", l.Allow("client-a", 3))
	clock = clock.Add(time.Second)
	fmt.Printf("%+v\n", l.Allow("client-a", 3))
	// Output:
	// {Allowed:true Limit:4 Remaining:1 ResetAfter:1.5s RetryAfter:0s}
	// {Allowed:false Limit:4 Remaining:1 ResetAfter:1.5s RetryAfter:1s}
	// {Allowed:true Limit:4 Remaining:0 ResetAfter:2s RetryAfter:0s}
}

func ExampleKey() {
	fmt.Println(ratelimit.Key(netip.MustParseAddr("2001:db8:1:2:aaaa::1")))
	fmt.Println(ratelimit.Key(netip.MustParseAddr("::ffff:192.0.2.1")))
	// Output:
	// 2001:db8:1:2::/64
	// 192.0.2.1
}
