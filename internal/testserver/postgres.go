package testserver

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// postgresInstall is the install command named when PostgreSQL is missing.
	postgresInstall = "apt-get install -y postgresql"
	// postgresLibDir holds Debian's versioned PostgreSQL installations, VERSION/bin.
	postgresLibDir = "/usr/lib/postgresql"
	// postgresDatabase is the database Postgres creates for the test.
	postgresDatabase = "phikit_test"
)

// PostgresServer is a running PostgreSQL cluster started by [Postgres].
type PostgresServer struct {
	// URL is a connection URL for the database phikit_test as the superuser postgres,
	// which needs no password: "postgres://postgres@127.0.0.1:PORT/phikit_test?sslmode=disable".
	URL string
	// Host is the address the server listens on, always "127.0.0.1".
	Host string
	// Port is the server's TCP port.
	Port int
}

// Postgres starts a fresh PostgreSQL cluster for the test (initdb, then pg_ctl start)
// on a free port of 127.0.0.1, creates the database phikit_test, and stops the cluster
// and removes its files in t.Cleanup. fsync and synchronous commit are off: the data
// does not survive a crash, and need not.
//
// It skips the test when PostgreSQL is not installed (fails it when
// PHIKIT_INTEGRATION=1) and fails the test, quoting the server log, when the cluster
// does not start. When the test runs as root the cluster runs as the postgres OS user.
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	bins := postgresBinaries(t)
	owner := postgresOwner(t)

	// Not t.TempDir: its parent directories are 0700, which the postgres user cannot
	// traverse when the test runs as root.
	base, err := os.MkdirTemp("", "phikit-pg-*")
	if err != nil {
		t.Fatalf("testserver: create postgres directory: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(base); err != nil {
			t.Errorf("testserver: remove postgres directory: %v", err)
		}
	})
	pg := &pgCluster{
		bins:     bins,
		owner:    owner,
		base:     base,
		data:     filepath.Join(base, "data"),
		sockets:  filepath.Join(base, "sockets"),
		logPath:  filepath.Join(base, "postgres.log"),
		pwfile:   filepath.Join(base, "pwfile"),
		password: rand.Text(),
	}
	if err := pg.prepare(); err != nil {
		t.Fatalf("testserver: prepare postgres directory: %v", err)
	}
	// Password authentication even on loopback: another local user must not get a
	// superuser (and with COPY ... PROGRAM, a shell) on the test cluster.
	if out, err := pg.run(bins.initdb, "-D", pg.data, "-U", "postgres", "--auth=scram-sha-256",
		"--pwfile="+pg.pwfile, "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		t.Fatalf("testserver: initdb: %v\n--- initdb output ---\n%s", err, tailString(out))
	}

	// Registered before starting, so the cluster is stopped even if the test stops
	// while it is starting.
	t.Cleanup(func() {
		if err := pg.stop(); err != nil {
			t.Errorf("testserver: stop postgres: %v", err)
		}
	})

	var port int
	for attempt := 1; ; attempt++ {
		if port, err = freePort(); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		offset := fileSize(pg.logPath)
		out, err := pg.start(port)
		if err == nil {
			break
		}
		tail := logTail(pg.logPath, offset)
		if attempt < startAttempts && strings.Contains(tail, "Address already in use") {
			continue
		}
		t.Fatalf("testserver: start postgres on 127.0.0.1:%d (attempt %d of %d): %v\n--- pg_ctl output ---\n%s\n--- postgres log tail ---\n%s",
			port, attempt, startAttempts, err, tailString(out), tail)
	}

	if out, err := pg.run(bins.createdb, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-U", "postgres", postgresDatabase); err != nil {
		t.Fatalf("testserver: createdb %s: %v\n--- createdb output ---\n%s\n--- postgres log tail ---\n%s",
			postgresDatabase, err, tailString(out), logTail(pg.logPath, 0))
	}

	return &PostgresServer{
		URL: fmt.Sprintf("postgres://postgres:%s@%s/%s?sslmode=disable", pg.password,
			net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), postgresDatabase),
		Host: "127.0.0.1",
		Port: port,
	}
}

// pgBinaries are the paths of the PostgreSQL programs Postgres runs.
type pgBinaries struct {
	initdb, pgCtl, createdb string
}

// postgresBinaries finds initdb, pg_ctl and createdb: in the newest
// /usr/lib/postgresql/VERSION/bin that has initdb and pg_ctl, else next to initdb
// found on PATH, else on PATH. It skips or fails the test (see need) when one is
// missing.
func postgresBinaries(t testing.TB) pgBinaries {
	t.Helper()
	dir := newestPostgresBinDir(postgresLibDir)
	if dir == "" {
		initdb := need(t, "initdb", postgresInstall)
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			initdb = real
		}
		dir = filepath.Dir(initdb)
	}
	find := func(name string) string {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
		return need(t, name, postgresInstall)
	}
	return pgBinaries{initdb: find("initdb"), pgCtl: find("pg_ctl"), createdb: find("createdb")}
}

// newestPostgresBinDir returns root/VERSION/bin for the numerically highest VERSION
// (so 10 is newer than 9.6) whose bin holds executable initdb and pg_ctl, or "" when
// there is none.
func newestPostgresBinDir(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var best []int
	bestDir := ""
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !ok || (best != nil && slices.Compare(v, best) <= 0) {
			continue
		}
		bin := filepath.Join(root, e.Name(), "bin")
		if isExecutable(filepath.Join(bin, "initdb")) && isExecutable(filepath.Join(bin, "pg_ctl")) {
			best, bestDir = v, bin
		}
	}
	return bestDir
}

// parseVersion parses a dotted version such as "15" or "9.6" into its numbers.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

// isExecutable reports whether path, after symlinks, is a regular file with an
// execute bit set.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// postgresOwner returns the postgres OS user when the test runs as root (initdb and
// postgres refuse to run as root), else nil for the current user. Without that user
// it skips or fails the test, as for a missing binary.
func postgresOwner(t testing.TB) *osUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		skipOrFail(t, fmt.Sprintf("running as root and the postgres OS user is missing (%v); PostgreSQL refuses to run as root; install it with: %s", err, postgresInstall))
		return nil
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("testserver: postgres OS user has non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	return &osUser{name: u.Username, uid: uid, gid: gid}
}

// pgCluster is one test's PostgreSQL cluster and its files, all under base.
type pgCluster struct {
	bins    pgBinaries
	owner   *osUser // runs the PostgreSQL programs; nil for the current user
	base    string
	data    string // the cluster's data directory, created by initdb
	sockets string // the Unix socket directory, private to this cluster
	logPath string // the server log
	pwfile  string // the superuser's password, for initdb
	// password is the superuser's password: random per cluster, base32 (URL-safe).
	password string
}

// prepare makes base traversable, creates the socket directory and the log file, and
// hands them to the owner, who must be able to create the data directory in base.
func (pg *pgCluster) prepare() error {
	// #nosec G302 -- a directory the postgres user must traverse; it holds no secrets.
	if err := os.Chmod(pg.base, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(pg.sockets, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(pg.logPath, nil, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(pg.pwfile, []byte(pg.password+"\n"), 0o600); err != nil {
		return err
	}
	if pg.owner == nil {
		return nil
	}
	for _, p := range []string{pg.base, pg.sockets, pg.logPath, pg.pwfile} {
		if err := os.Chown(p, pg.owner.uid, pg.owner.gid); err != nil {
			return err
		}
	}
	return nil
}

// start runs pg_ctl start on port and waits (pg_ctl -w) until the server accepts
// connections or readyTimeout passes. It returns pg_ctl's output.
func (pg *pgCluster) start(port int) ([]byte, error) {
	// pg_ctl hands -o to a shell, so the socket directory is single-quoted.
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-k " + shellQuote(pg.sockets),
		"-p " + strconv.Itoa(port),
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
	}, " ")
	return pg.run(pg.bins.pgCtl, "-D", pg.data, "-l", pg.logPath, "-o", opts,
		"-w", "-t", strconv.Itoa(int(readyTimeout/time.Second)), "start")
}

// stop stops the server with pg_ctl -m immediate, if it is running.
func (pg *pgCluster) stop() error {
	if _, err := os.Stat(filepath.Join(pg.data, "postmaster.pid")); os.IsNotExist(err) {
		return nil // never started, or already stopped
	}
	out, err := pg.run(pg.bins.pgCtl, "-D", pg.data, "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("%w\n--- pg_ctl output ---\n%s", err, tailString(out))
	}
	return nil
}

// run runs a PostgreSQL program as the cluster owner in base, with PG* variables
// removed from the environment so that the caller's settings do not leak in, and
// returns its combined output.
func (pg *pgCluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	defer cancel()
	// #nosec G204 -- runs the PostgreSQL programs found by need(), with arguments built here.
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = pg.base
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG")
	}), "PGPASSWORD="+pg.password)
	cmd.SysProcAttr = sysProcAttr(pg.owner)
	// The started server must not keep pg_ctl's output pipe open; if it did, stop
	// waiting for the pipe shortly after pg_ctl exits.
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tailString returns the last logTailBytes of out, trimmed.
func tailString(out []byte) string {
	if len(out) > logTailBytes {
		out = out[len(out)-logTailBytes:]
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	return "(no output)"
}
