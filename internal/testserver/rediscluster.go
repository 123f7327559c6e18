package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterMasters is the number of masters RedisCluster starts; clusterSlots is the
// size of Redis Cluster's key space.
const (
	clusterMasters = 3
	clusterSlots   = 16384
	// clusterBusOffset is the distance from a node's client port to its cluster bus
	// port, fixed by Redis when cluster-port is not set.
	clusterBusOffset = 10000
)

// RedisClusterServer is a running Redis Cluster started by [RedisCluster].
type RedisClusterServer struct {
	// Addrs are the masters' TCP addresses, "127.0.0.1:PORT", with no password.
	// Addrs[i] serves the i-th third of the hash slots. Any of them is a seed for a
	// cluster client.
	Addrs []string
}

// RedisCluster starts a fresh Redis Cluster for the test: three redis-server masters
// with cluster-enabled on free ports of 127.0.0.1 (each with its cluster bus on port
// + 10000), persistence off, each in its own directory in t.TempDir, no replicas. It
// assigns the 16384 hash slots in three ranges (CLUSTER ADDSLOTS), joins the nodes
// (CLUSTER MEET), waits until every node reports cluster_state:ok, and stops the
// servers in t.Cleanup. It needs only redis-server, not redis-cli.
//
// It skips the test when redis-server is not installed (fails it when
// PHIKIT_INTEGRATION=1) and fails the test, quoting the server log, when a node does
// not start or the cluster does not form.
func RedisCluster(t testing.TB) *RedisClusterServer {
	t.Helper()
	bin := need(t, "redis-server", "apt-get install -y redis-server")
	c := &RedisClusterServer{}
	var logs []string
	for i := range clusterMasters {
		dir := t.TempDir()
		for attempt := 1; ; attempt++ {
			addr, logPath, portTaken, err := startClusterNode(t, bin, dir)
			if err == nil {
				c.Addrs = append(c.Addrs, addr)
				logs = append(logs, logPath)
				break
			}
			if !portTaken || attempt == startAttempts {
				t.Fatalf("testserver: start cluster node %d (attempt %d of %d): %v", i, attempt, startAttempts, err)
			}
		}
	}
	if err := formCluster(c.Addrs); err != nil {
		var tails strings.Builder
		for i, p := range logs {
			fmt.Fprintf(&tails, "\n--- node %d (%s) log tail ---\n%s", i, c.Addrs[i], logTail(p, 0))
		}
		t.Fatalf("testserver: form redis cluster: %v%s", err, tails.String())
	}
	return c
}

// startClusterNode makes one attempt to start a cluster-enabled redis-server in dir on
// a fresh port whose bus port (port + 10000) is a valid port, and waits until it
// answers. portTaken reports a failure because another process holds one of the ports.
func startClusterNode(t testing.TB, bin, dir string) (addr, logPath string, portTaken bool, err error) {
	var port int
	for range 100 { // ephemeral ports above 55535 have no bus port: draw again
		if port, err = freePort(); err != nil {
			return "", "", false, err
		}
		if port+clusterBusOffset <= 65535 {
			break
		}
	}
	if port+clusterBusOffset > 65535 {
		return "", "", false, fmt.Errorf("no free port below %d for a cluster node", 65535-clusterBusOffset+1)
	}
	return runRedis(t, bin, dir, port,
		"--cluster-enabled", "yes",
		"--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
		"--cluster-node-timeout", "5000",
	)
}

// formCluster gives each node a distinct config epoch and a third of the slots, has
// the first node meet the others, and waits until every node reports cluster_state:ok
// with all nodes known.
func formCluster(addrs []string) error {
	for i, addr := range addrs {
		if _, err := redisDo(addr, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			return fmt.Errorf("node %s: set config epoch: %w", addr, err)
		}
		lo, hi := i*clusterSlots/len(addrs), (i+1)*clusterSlots/len(addrs)
		args := []string{"CLUSTER", "ADDSLOTS"}
		for s := lo; s < hi; s++ {
			args = append(args, strconv.Itoa(s))
		}
		if _, err := redisDo(addr, args...); err != nil {
			return fmt.Errorf("node %s: add slots %d-%d: %w", addr, lo, hi-1, err)
		}
	}
	for _, addr := range addrs[1:] {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return err
		}
		if _, err := redisDo(addrs[0], "CLUSTER", "MEET", host, port); err != nil {
			return fmt.Errorf("node %s: meet %s: %w", addrs[0], addr, err)
		}
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		err := clusterReady(addrs)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not ready after %s: %w", readyTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

// clusterReady checks CLUSTER INFO on every node: cluster_state:ok, every slot
// assigned, and every node known.
func clusterReady(addrs []string) error {
	want := map[string]string{
		"cluster_state":          "ok",
		"cluster_slots_assigned": strconv.Itoa(clusterSlots),
		"cluster_known_nodes":    strconv.Itoa(len(addrs)),
		"cluster_size":           strconv.Itoa(len(addrs)),
	}
	for _, addr := range addrs {
		info, err := redisDo(addr, "CLUSTER", "INFO")
		if err != nil {
			return fmt.Errorf("node %s: %w", addr, err)
		}
		got := map[string]string{}
		for line := range strings.Lines(info) {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
				got[k] = v
			}
		}
		for k, v := range want {
			if got[k] != v {
				return fmt.Errorf("node %s: %s is %q, want %q", addr, k, got[k], v)
			}
		}
	}
	return nil
}

// redisDo sends one command to the Redis server at addr on a fresh connection and
// returns its reply: the text of a simple string, integer or bulk string. An error
// reply is returned as an error.
func redisDo(addr string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error reply: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("unexpected bulk reply header %q", line)
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(r, body); err != nil {
			return "", err
		}
		return string(body[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}
