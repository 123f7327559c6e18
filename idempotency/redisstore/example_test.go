package redisstore_test

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency/redisstore"
)

// A store shared by every replica through one Redis. The middleware calls Claim when a
// request with an Idempotency-Key arrives and Complete with its sealed response.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr:        "localhost:6379",
		DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond,
		MaxRetries:  -1,
	})
	defer client.Close()
	store, err := redisstore.New(redisstore.Config{Client: client, Prefix: "clinic:idem:"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = store // idempotency.Config{Store: store, ...}

	// Without a Client, New refuses the config.
	_, err = redisstore.New(redisstore.Config{})
	fmt.Println(err)
	// Output: redisstore: Config.Client is required: redisstore: invalid config
}
