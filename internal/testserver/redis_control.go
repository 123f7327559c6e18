package testserver

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// Stop shuts the server down (SHUTDOWN NOSAVE) and waits until its address refuses
// connections, so a test can watch its clients fail. [RedisServer.Start] brings a fresh,
// empty server back on the same address.
func (s *RedisServer) Stop(t testing.TB) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		t.Fatalf("testserver: stop redis-server on %s: %v", s.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(conn, "*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
	if err == nil {
		_, _ = io.Copy(io.Discard, conn) // the server closes the connection as it exits
	}
	_ = conn.Close()
	if err != nil {
		t.Fatalf("testserver: stop redis-server on %s: %v", s.Addr, err)
	}
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("testserver: redis-server on %s still answers after SHUTDOWN", s.Addr)
		}
		time.Sleep(pollInterval)
	}
}

// Start starts a new, empty redis-server on the address of a server stopped with
// [RedisServer.Stop], waits until it answers, and stops it in t.Cleanup.
func (s *RedisServer) Start(t testing.TB) {
	t.Helper()
	bin := need(t, "redis-server", "apt-get install -y redis-server")
	_, portText, err := net.SplitHostPort(s.Addr)
	if err != nil {
		t.Fatalf("testserver: start redis-server: %v", err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("testserver: start redis-server: port %q: %v", portText, err)
	}
	if _, _, _, err := runRedis(t, bin, t.TempDir(), port); err != nil {
		t.Fatalf("testserver: restart redis-server: %v", err)
	}
}
