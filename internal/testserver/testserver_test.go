package testserver

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestRedisSmoke(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	a := Redis(t)
	b := Redis(t)
	require.NotEqual(t, a.Addr, b.Addr, "two Redis calls must give two servers")
	for _, s := range []*RedisServer{a, b} {
		host, _, err := net.SplitHostPort(s.Addr)
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1", host)
	}

	ca := redis.NewClient(&redis.Options{Addr: a.Addr})
	t.Cleanup(func() { _ = ca.Close() })
	cb := redis.NewClient(&redis.Options{Addr: b.Addr})
	t.Cleanup(func() { _ = cb.Close() })

	require.NoError(t, ca.Set(ctx, "phikit:smoke", "value-a", 0).Err())
	got, err := ca.Get(ctx, "phikit:smoke").Result()
	require.NoError(t, err)
	require.Equal(t, "value-a", got)

	// The second server has its own data: the key set on the first is absent.
	_, err = cb.Get(ctx, "phikit:smoke").Result()
	require.ErrorIs(t, err, redis.Nil)
	require.NoError(t, cb.Set(ctx, "phikit:smoke", "value-b", 0).Err())
	got, err = ca.Get(ctx, "phikit:smoke").Result()
	require.NoError(t, err)
	require.Equal(t, "value-a", got, "writing to the second server changed the first")

	// The server is stopped when the test that started it ends.
	var addr string
	t.Run("stopped at cleanup", func(t *testing.T) {
		addr = Redis(t).Addr
		require.NoError(t, pingRedisAt(addr))
	})
	if !t.Failed() {
		require.Error(t, pingRedisAt(addr), "redis-server still answers after its test ended")
	}
}

// pingRedisAt dials addr and expects +PONG to PING.
func pingRedisAt(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	if _, err := conn.Read(buf); err != nil {
		return err
	}
	if string(buf) != "+PONG\r\n" {
		return fmt.Errorf("unexpected reply %q", buf)
	}
	return nil
}

func TestPostgresSmoke(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	srv := Postgres(t)
	require.Equal(t, "127.0.0.1", srv.Host)
	require.Regexp(t, fmt.Sprintf(`^postgres://postgres:[A-Z2-7]{26}@127\.0\.0\.1:%d/phikit_test\?sslmode=disable$`, srv.Port), srv.URL)

	// Password authentication: without the password the server refuses.
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	u.User = url.User("postgres")
	_, err = pgx.Connect(ctx, u.String())
	require.Error(t, err, "connected without a password")

	conn, err := pgx.Connect(ctx, srv.URL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })

	var db, listen string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	require.Equal(t, "phikit_test", db)
	require.NoError(t, conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen))
	require.Equal(t, "127.0.0.1", listen)

	_, err = conn.Exec(ctx, "CREATE TABLE smoke (id int PRIMARY KEY, note text NOT NULL)")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "INSERT INTO smoke (id, note) VALUES ($1, $2)", 7, "hello")
	require.NoError(t, err)
	var note string
	require.NoError(t, conn.QueryRow(ctx, "SELECT note FROM smoke WHERE id = $1", 7).Scan(&note))
	require.Equal(t, "hello", note)

	// The cluster is stopped and its files removed when the test that started it ends.
	var stopped *PostgresServer
	t.Run("stopped at cleanup", func(t *testing.T) {
		stopped = Postgres(t)
		require.NotEqual(t, srv.Port, stopped.Port)
		c, err := pgx.Connect(ctx, stopped.URL)
		require.NoError(t, err)
		require.NoError(t, c.Ping(ctx))
		require.NoError(t, c.Close(ctx))
	})
	if !t.Failed() {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(stopped.Host, strconv.Itoa(stopped.Port)), time.Second)
		if err == nil {
			c.Close()
		}
		require.Error(t, err, "postgres still listens after its test ended")
	}
}

func TestNewestPostgresBinDir(t *testing.T) {
	root := t.TempDir()
	install := func(version string, programs ...string) {
		bin := filepath.Join(root, version, "bin")
		require.NoError(t, os.MkdirAll(bin, 0o755))
		for _, p := range programs {
			require.NoError(t, os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755))
		}
	}
	require.Empty(t, newestPostgresBinDir(filepath.Join(root, "missing")))
	install("9.6", "initdb", "pg_ctl")
	require.Equal(t, filepath.Join(root, "9.6", "bin"), newestPostgresBinDir(root))
	install("10", "initdb", "pg_ctl")     // numerically newer than 9.6, though "10" < "9.6" as text
	install("17", "initdb")               // no pg_ctl: not a usable installation
	install("16beta", "initdb", "pg_ctl") // not a version number
	require.NoError(t, os.WriteFile(filepath.Join(root, "99"), nil, 0o644))
	require.Equal(t, filepath.Join(root, "10", "bin"), newestPostgresBinDir(root))
}

// fakeTB records how need stops a test. Skip and Fatal end the calling goroutine, as
// the testing package's do.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.failed, f.msg = true, fmt.Sprint(args...)
	runtime.Goexit()
}

// callNeed runs need for binary on a fakeTB in its own goroutine and returns the fake
// and need's result ("" when need stopped the test).
func callNeed(binary string) (*fakeTB, string) {
	f := &fakeTB{}
	var path string
	done := make(chan struct{})
	go func() {
		defer close(done)
		path = need(f, binary, "apt-get install -y phikit-missing")
	}()
	<-done
	return f, path
}

func TestNeed(t *testing.T) {
	const missing = "phikit-no-such-binary"

	t.Setenv(integrationEnv, "")
	f, path := callNeed(missing)
	require.True(t, f.skipped, "a missing binary must skip the test")
	require.False(t, f.failed)
	require.Empty(t, path)
	require.Contains(t, f.msg, missing)
	require.Contains(t, f.msg, "apt-get install -y phikit-missing")
	skipMsg := f.msg

	t.Setenv(integrationEnv, "1")
	f, _ = callNeed(missing)
	require.True(t, f.failed, "with PHIKIT_INTEGRATION=1 a missing binary must fail the test")
	require.False(t, f.skipped)
	require.Equal(t, skipMsg, f.msg)

	f, path = callNeed("sh")
	require.False(t, f.skipped || f.failed)
	require.True(t, strings.HasSuffix(path, "/sh"), "need(sh) = %q", path)
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.log")
	require.Contains(t, logTail(path, 0), "cannot read log")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.Equal(t, "(log is empty)", logTail(path, 0))
	long := strings.Repeat("x", 2*logTailBytes) + "\nlast line\n"
	require.NoError(t, os.WriteFile(path, []byte("first\n"+long), 0o600))
	tail := logTail(path, 0)
	require.Len(t, tail, logTailBytes-1) // the trailing newline is trimmed
	require.True(t, strings.HasSuffix(tail, "last line"))

	// An offset skips what was logged before it.
	require.NoError(t, os.WriteFile(path, []byte("earlier attempt\nthis attempt\n"), 0o600))
	require.Equal(t, "this attempt", logTail(path, int64(len("earlier attempt\n"))))
}
