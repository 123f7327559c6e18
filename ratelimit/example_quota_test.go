package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/phikit/phikit/ratelimit"
)

func ExampleRouteCosts() {
	costs := ratelimit.FHIRCosts("/fhir")
	costs["GET /fhir/{type}"] = 2 // searches are cheap on this server
	cost, err := ratelimit.RouteCosts(1, costs)
	if err != nil {
		panic(err)
	}
	for _, target := range []string{"/fhir/Patient/pat-1", "/fhir/Observation?patient=pat-1", "/fhir/Group/g1/$export"} {
		fmt.Println(target, cost(httptest.NewRequest(http.MethodGet, target, nil)))
	}
	// Output:
	// /fhir/Patient/pat-1 1
	// /fhir/Observation?patient=pat-1 2
	// /fhir/Group/g1/$export 100
}

func ExampleQuota() {
	// A fixed clock, 18:00 UTC: six hours to the end of the day.
	now := func() time.Time { return time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC) }
	limiter, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 10, Burst: 20, Now: now})
	if err != nil {
		panic(err)
	}
	mw, err := ratelimit.New(ratelimit.Config{
		Limiter: limiter,
		Policy:  "burst",
		Quotas:  []ratelimit.Quota{{Name: "daily", Limit: 2, Period: ratelimit.Day}},
	})
	if err != nil {
		panic(err)
	}
	h := mw.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for i := range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fhir/Patient/pat-1", nil))
		fmt.Printf("%d %d RateLimit: %s Retry-After: %q\n", i+1, rec.Code, rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
		if i == 2 {
			fmt.Println("RateLimit-Policy:", rec.Header().Get("RateLimit-Policy"))
		}
	}
	// Output:
	// 1 200 RateLimit: "burst";r=19;t=1, "daily";r=1;t=21600 Retry-After: ""
	// 2 200 RateLimit: "burst";r=18;t=1, "daily";r=0;t=21600 Retry-After: ""
	// 3 429 RateLimit: "burst";r=17;t=1, "daily";r=0;t=21600 Retry-After: "21600"
	// RateLimit-Policy: "burst";q=20;w=2, "daily";q=2;w=86400
}
