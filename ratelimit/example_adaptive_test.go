package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/phikit/phikit/ratelimit"
)

// The handler sheds what is beyond the limit with 503 and Retry-After, before it
// reaches the service.
func ExampleConcurrency_Handler() {
	limiter, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{
		InitialLimit: 2,
		MinLimit:     1,
		MaxLimit:     100,
		RetryAfter:   2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	// Two requests are in flight (held here by hand; in a service, by slow handlers).
	for range 2 {
		permit, _ := limiter.Acquire()
		defer permit.Release(ratelimit.OutcomeSuccess)
	}
	h := limiter.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/Patient/1", nil))
	fmt.Println(rec.Code, "Retry-After:", rec.Header().Get("Retry-After"))
	fmt.Println(rec.Header().Get("Content-Type"))
	// Output:
	// 503 Retry-After: 2
	// application/problem+json
}

// The limit follows latency: up while requests are fast and the limit is in use, down
// when they slow down, within MinLimit and MaxLimit. Here the clock is driven by hand,
// and every window has the same traffic.
func ExampleConcurrency_AcquireAt() {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limiter, err := ratelimit.NewConcurrency(ratelimit.ConcurrencyConfig{
		InitialLimit: 20,
		MinLimit:     5,
		MaxLimit:     40,
		Now:          func() time.Time { return start },
	})
	if err != nil {
		panic(err)
	}
	now := start
	// One second of traffic: two bursts of 20 requests at once, of the given latency.
	// Those beyond the limit are shed. The last release, at the window's end, closes it.
	window := func(latency time.Duration) {
		now = now.Add(time.Second)
		for burst := range 2 {
			var permits []ratelimit.Permit
			for range 20 {
				if p, ok := limiter.AcquireAt(now.Add(-latency)); ok {
					permits = append(permits, p)
				}
			}
			for i, p := range permits {
				at := now.Add(-time.Nanosecond)
				if burst == 1 && i == len(permits)-1 {
					at = now
				}
				p.ReleaseAt(at, ratelimit.OutcomeSuccess)
			}
		}
	}
	for _, latency := range []time.Duration{
		10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, // fast
		80 * time.Millisecond, 80 * time.Millisecond, 80 * time.Millisecond, // slow
		10 * time.Millisecond, 10 * time.Millisecond, // fast again
	} {
		window(latency)
		fmt.Printf("%v: limit %d\n", latency, limiter.Limit())
	}
	// Output:
	// 10ms: limit 24
	// 10ms: limit 29
	// 10ms: limit 34
	// 80ms: limit 17
	// 80ms: limit 8
	// 80ms: limit 5
	// 10ms: limit 7
	// 10ms: limit 9
}
