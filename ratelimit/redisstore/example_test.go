package redisstore_test

import (
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/ratelimit"
	"github.com/phikit/phikit/ratelimit/redisstore"
)

// A limit shared by every replica through Redis, falling back to a per-process limit
// while Redis is down.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:        "localhost:6379",
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond,
		MaxRetries:  -1,
	})
	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "clinic:ratelimit:"})
	if err != nil {
		panic(err)
	}
	limiter, err := ratelimit.NewLimiter(ratelimit.LimiterConfig{Rate: 10, Burst: 20})
	if err != nil {
		panic(err)
	}
	mw, err := ratelimit.New(ratelimit.Config{
		Limiter:      limiter,
		Store:        store,
		OnStoreError: ratelimit.FallbackLocal,
	})
	if err != nil {
		panic(err)
	}
	_ = mw.Handler(http.NotFoundHandler())
}
