package redisstore_test

import (
	"context"
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

// A monthly quota per tenant shared by every replica: the key names the tenant and the
// month, and the counter is forgotten when the month ends.
func ExampleQuotaStore_Spend() {
	client := redis.NewClient(&redis.Options{
		Addr:        "localhost:6379",
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond,
		MaxRetries:  -1,
	})
	quotas, err := redisstore.NewQuotaStore(redisstore.QuotaConfig{Client: client, Prefix: "clinic:ratelimit:"})
	if err != nil {
		panic(err)
	}
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	key := "tenant-7:" + month.Format("2006-01")
	count, allowed, err := quotas.Spend(context.Background(), key, 1, 10_000, month.AddDate(0, 1, 0))
	switch {
	case err != nil:
		// Fail closed: no decision was taken.
	case !allowed:
		// The month's 10 000 exports are spent: count is how many.
	}
	_ = count
}
