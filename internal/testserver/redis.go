package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RedisServer is a running redis-server started by [Redis].
type RedisServer struct {
	// Addr is the server's TCP address, "127.0.0.1:PORT", with no password.
	Addr string
}

// Redis starts a fresh redis-server for the test on a free port of 127.0.0.1, with
// persistence off and its working directory in t.TempDir, and stops it in t.Cleanup.
// It skips the test when redis-server is not installed (fails it when
// PHIKIT_INTEGRATION=1) and fails the test, quoting the server log, when the server
// does not start.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	bin := need(t, "redis-server", "apt-get install -y redis-server")
	dir := t.TempDir()
	for attempt := 1; ; attempt++ {
		addr, portTaken, err := startRedis(t, bin, dir)
		if err == nil {
			return &RedisServer{Addr: addr}
		}
		if !portTaken || attempt == startAttempts {
			t.Fatalf("testserver: start redis-server (attempt %d of %d): %v", attempt, startAttempts, err)
		}
	}
}

// startRedis makes one attempt to start redis-server on a fresh port and wait until it
// answers. portTaken reports a failure because another process holds the port, which
// is worth a retry.
func startRedis(t testing.TB, bin, dir string) (addr string, portTaken bool, err error) {
	port, err := freePort()
	if err != nil {
		return "", false, err
	}
	addr, _, portTaken, err = runRedis(t, bin, dir, port)
	return addr, portTaken, err
}

// runRedis starts redis-server in dir on 127.0.0.1:port with persistence off and the
// arguments extra added, stops it in t.Cleanup, and waits until it answers. It returns
// the server's address and the path of its log. A failure quotes the log's tail;
// portTaken reports one because another process holds the port.
func runRedis(t testing.TB, bin, dir string, port int, extra ...string) (addr, logPath string, portTaken bool, err error) {
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath = filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))
	// #nosec G204 -- runs the redis-server found by need(), with arguments built here.
	cmd := exec.Command(bin, append([]string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "yes",
	}, extra...)...)
	cmd.Dir = dir
	p, err := launch(t, cmd, logPath)
	if err != nil {
		return "", "", false, err
	}
	if err := waitRedis(addr, p.pid, p.exited); err != nil {
		p.stop()
		tail := logTail(logPath, 0)
		return "", "", strings.Contains(tail, "Address already in use"),
			fmt.Errorf("%w\n--- redis-server log tail ---\n%s", err, tail)
	}
	return addr, logPath, false, nil
}

// waitRedis polls addr until the redis-server with process id pid answers PING, the
// process exits, or readyTimeout passes.
func waitRedis(addr string, pid int, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		err := pingRedis(addr, pid)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not ready after %s: %w", addr, readyTimeout, err)
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited before it was ready", addr)
		case <-time.After(pollInterval):
		}
	}
}

// pingRedis sends PING to addr and expects +PONG, then checks with INFO server that the
// answering server is the process pid, not another server that holds the port.
func pingRedis(addr string, pid int) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)

	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply to PING: %q", strings.TrimSpace(line))
	}

	if _, err := io.WriteString(conn, "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return err
	}
	line, err = r.ReadString('\n')
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "$")))
	if !strings.HasPrefix(line, "$") || err != nil || n < 0 {
		return fmt.Errorf("unexpected reply to INFO: %q", strings.TrimSpace(line))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	for field := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(field), "process_id:"); ok {
			if v != strconv.Itoa(pid) {
				return fmt.Errorf("%s is served by process %s, not by the started redis-server (%d)", addr, v, pid)
			}
			return nil
		}
	}
	return errors.New("INFO server reply has no process_id")
}
