package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logPath := filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))
	logFile, err := os.Create(logPath) // #nosec G304 -- a path in the test's own temp dir
	if err != nil {
		return "", false, fmt.Errorf("create log file: %w", err)
	}
	// #nosec G204 -- runs the redis-server found by need(), with arguments built here.
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "yes",
	)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr(nil)
	err = cmd.Start()
	_ = logFile.Close() // the child holds its own descriptor
	if err != nil {
		return "", false, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Kill() // fails harmlessly when the process has already exited
		<-exited
	}
	// Registered before waiting, so the process is stopped even if the test stops
	// while it is starting.
	t.Cleanup(stop)

	if err := waitRedis(addr, cmd.Process.Pid, exited); err != nil {
		stop()
		tail := logTail(logPath, 0)
		return "", strings.Contains(tail, "Address already in use"),
			fmt.Errorf("%w\n--- redis-server log tail ---\n%s", err, tail)
	}
	return addr, false, nil
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
