package redisstore_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/internal/testserver"
)

// TestCluster runs the conformance suite, middleware included, through a
// *redis.ClusterClient on a real three-master Redis Cluster: every call touches one key,
// so no command is refused with CROSSSLOT whichever slots the records land on.
func TestCluster(t *testing.T) {
	srv := testserver.RedisCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: srv.Addrs, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store { return newStore(t, c) })
}
