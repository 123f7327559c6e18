package testserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestRedisClusterSmoke(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	var addrs []string
	t.Run("cluster", func(t *testing.T) {
		c := RedisCluster(t)
		addrs = c.Addrs
		require.Len(t, c.Addrs, 3)
		require.Len(t, map[string]bool{c.Addrs[0]: true, c.Addrs[1]: true, c.Addrs[2]: true}, 3, "three distinct addresses")

		for _, addr := range c.Addrs {
			info, err := redisDo(addr, "CLUSTER", "INFO")
			require.NoError(t, err)
			require.Contains(t, info, "cluster_state:ok", "node %s", addr)
		}

		client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs[:1]})
		t.Cleanup(func() { _ = client.Close() })
		const n = 60
		for i := range n {
			require.NoError(t, client.Set(ctx, fmt.Sprintf("phikit:smoke:%d", i), i, 0).Err())
		}
		// Each master holds some of the keys, and together all of them: the slots are
		// spread over the three nodes.
		total := int64(0)
		for _, addr := range c.Addrs {
			size, err := redisDo(addr, "DBSIZE")
			require.NoError(t, err)
			var k int64
			_, err = fmt.Sscan(size, &k)
			require.NoError(t, err)
			require.Positive(t, k, "node %s holds no key", addr)
			total += k
		}
		require.EqualValues(t, n, total)

		// A command on two slots of different nodes is refused by Redis itself: the
		// cluster is real.
		err := client.MGet(ctx, "phikit:smoke:1", "phikit:smoke:2").Err()
		require.Error(t, err)
		require.True(t, strings.Contains(err.Error(), "CROSSSLOT"), "MGET across slots: got %v, want CROSSSLOT", err)
	})
	if !t.Failed() {
		for _, addr := range addrs {
			require.Error(t, pingRedisAt(addr), "cluster node %s still answers after its test ended", addr)
		}
	}
}
