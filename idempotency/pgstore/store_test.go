package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/idempotency/idempotencytest"
	"github.com/phikit/phikit/idempotency/pgstore"
	"github.com/phikit/phikit/internal/testserver"
)

// TestPostgres runs the tests that need a PostgreSQL on one server, each on tables of
// its own.
func TestPostgres(t *testing.T) {
	srv := testserver.Postgres(t)
	pool := newPool(t, srv.URL, nil)
	t.Run("Conformance", func(t *testing.T) {
		idempotencytest.RunStoreTests(t, func(t *testing.T) idempotency.Store { return newStore(t, pool, "") })
	})
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *testserver.PostgresServer, *pgxpool.Pool)
	}{
		{"New", testNew},
		{"CreateSchema", testCreateSchema},
		{"ConcurrentClaims", testConcurrentClaims},
		{"ConcurrentClaimsSerializable", testConcurrentClaimsSerializable},
		{"ClaimRacesAWriter", testClaimRacesAWriter},
		{"StoredRow", testStoredRow},
		{"OneStatement", testOneStatement},
		{"DeleteExpired", testDeleteExpired},
		{"Canceled", testCanceled},
		{"InvalidDurations", testInvalidDurations},
		{"DatabaseGone", testDatabaseGone},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, srv, pool) })
	}
}

func testNew(t *testing.T, _ *testserver.PostgresServer, pool *pgxpool.Pool) {
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS phi; CREATE SCHEMA IF NOT EXISTS "+strings.Repeat("s", 63)); err != nil {
		t.Fatal(err)
	}
	if _, err := pgstore.New(pgstore.Config{}); !errors.Is(err, pgstore.ErrInvalidConfig) {
		t.Errorf("New without Pool: got %v, want ErrInvalidConfig", err)
	}
	for _, tc := range []struct {
		name, table string
		valid       bool
	}{
		{"default", "", true},
		{"plain", "idempotency_records", true},
		{"leading underscore", "_idem", true},
		{"digits", "idem2", true},
		{"schema-qualified", "phi.idempotency", true},
		{"reserved word", "user", true},
		{"reserved word in a schema", "phi.select", true},
		{"name at the limit", strings.Repeat("n", 53), true},
		{"name over the limit", strings.Repeat("n", 54), false},
		{"schema at the limit", strings.Repeat("s", 63) + ".idem", true},
		{"schema over the limit", strings.Repeat("s", 64) + ".idem", false},
		{"upper case", "Idem", false},
		{"leading digit", "1idem", false},
		{"hyphen", "idem-records", false},
		{"quote", `idem"; DROP TABLE x; --`, false},
		{"space", "idem records", false},
		{"two dots", "a.b.c", false},
		{"empty schema", ".idem", false},
		{"empty name", "phi.", false},
		{"non-ASCII", "idém", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pgstore.New(pgstore.Config{Pool: pool, Table: tc.table})
			if !tc.valid {
				if !errors.Is(err, pgstore.ErrInvalidConfig) || s != nil {
					t.Fatalf("New(Table %q): got %v, want ErrInvalidConfig", tc.table, err)
				}
				if strings.Contains(err.Error(), tc.table) {
					t.Errorf("error %q repeats the table name", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(Table %q): got %v, want nil", tc.table, err)
			}
			if err := s.CreateSchema(ctx); err != nil {
				t.Fatalf("CreateSchema(%q): %v", tc.table, err)
			}
			if c, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil || !c.Acquired {
				t.Errorf("Claim on table %q: got %+v, %v; want acquired", tc.table, c, err)
			}
		})
	}
}

// testCreateSchema: CreateSchema is idempotent and may run on replicas starting
// together.
func testCreateSchema(t *testing.T, srv *testserver.PostgresServer, _ *pgxpool.Pool) {
	table := newTable()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			s, err := pgstore.New(pgstore.Config{Pool: newPool(t, srv.URL, nil), Table: table})
			if err == nil {
				err = s.CreateSchema(context.Background())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: CreateSchema: %v", i, err)
		}
	}
	s := newStore(t, newPool(t, srv.URL, nil), table) // and once more
	if c, err := s.Claim(context.Background(), "k", "a", []byte("fp"), t0, lease); err != nil || !c.Acquired {
		t.Errorf("Claim: got %+v, %v; want acquired", c, err)
	}
	if err := s.CreateSchema(context.Background()); err != nil {
		t.Errorf("CreateSchema with a record in the table: %v", err)
	}
	if c, err := s.Claim(context.Background(), "k", "b", []byte("fp"), t0, lease); err != nil || c.Acquired {
		t.Errorf("Claim after CreateSchema: got %+v, %v; want the record kept", c, err)
	}
}

// testConcurrentClaims: of 50 concurrent Claims of one key, through one pool and
// through two (replicas), exactly one acquires, and every other sees its in-progress
// record. Each round uses a fresh key, then a key whose record is dead, so both the
// INSERT and the UPDATE paths race.
func testConcurrentClaims(t *testing.T, srv *testserver.PostgresServer, _ *pgxpool.Pool) {
	concurrentClaims(t, srv, "")
}

// testConcurrentClaimsSerializable is testConcurrentClaims on connections whose
// default isolation is SERIALIZABLE, where a Claim racing an insert fails with a
// serialization failure and runs again.
func testConcurrentClaimsSerializable(t *testing.T, srv *testserver.PostgresServer, _ *pgxpool.Pool) {
	concurrentClaims(t, srv, "serializable")
}

func concurrentClaims(t *testing.T, srv *testserver.PostgresServer, isolation string) {
	table := newTable()
	var queries queryCounter
	traced := func(c *pgxpool.Config) {
		c.ConnConfig.Tracer = &queries
		if isolation != "" {
			c.ConnConfig.RuntimeParams["default_transaction_isolation"] = isolation
		}
	}
	a := newStore(t, newPool(t, srv.URL, traced), table)
	b := newStore(t, newPool(t, srv.URL, traced), table)
	for round := range 6 {
		key := fmt.Sprint("k", round/2)
		now := t0
		if round%2 == 1 {
			now = t0.Add(lease) // the previous round's lease has run out
		}
		const n = 50
		var (
			wg       sync.WaitGroup
			acquired atomic.Int64
			winner   atomic.Value
			start    = make(chan struct{})
			claims   = make([]idempotency.Claim, n)
			errs     = make([]error, n)
		)
		for i := range n {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				<-start
				fp := fmt.Sprintf("fp-%d-%d", round, i)
				claims[i], errs[i] = s.Claim(context.Background(), key, fmt.Sprint("tok-", round, "-", i), []byte(fp), now, lease)
				if errs[i] == nil && claims[i].Acquired {
					acquired.Add(1)
					winner.Store(fp)
				}
			})
		}
		q := queries.n.Load()
		close(start)
		wg.Wait()
		// More statements than claims: some ran again after a concurrent insert.
		t.Logf("round %d: %d statements for %d claims", round, queries.n.Load()-q, n)
		if got := acquired.Load(); got != 1 {
			t.Fatalf("round %d: got %d acquired of %d concurrent claims, want 1", round, got, n)
		}
		for i, c := range claims {
			if errs[i] != nil {
				t.Errorf("round %d, claim %d: %v", round, i, errs[i])
				continue
			}
			if !c.Acquired && (c.Completed || string(c.Fingerprint) != winner.Load() || !c.LeaseExpires.Equal(now.Add(lease))) {
				t.Errorf("round %d, claim %d: got %+v, want the winner's in-progress record (%s)", round, i, c, winner.Load())
			}
		}
	}
}

// testClaimRacesAWriter makes the races of Claim happen on purpose: a transaction
// writes the key and holds it uncommitted, a Claim starts and waits for it, and the
// transaction commits (or rolls back). The Claim then answers from the row's latest
// version, although its statement's snapshot predates it, or acquires the key.
func testClaimRacesAWriter(t *testing.T, srv *testserver.PostgresServer, pool *pgxpool.Pool) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		before     string // a statement run and committed first
		writer     string // the racing transaction's statement
		commit     bool
		acquired   bool
		statements int64 // the Claim's
	}{
		{"a concurrent insert, committed: the row was not in the snapshot, so Claim looks again",
			"", "INSERT INTO %s VALUES ('\\x6b', 'w', 'writer', false, $1, NULL)", true, false, 2},
		{"a concurrent insert, rolled back",
			"", "INSERT INTO %s VALUES ('\\x6b', 'w', 'writer', false, $1, NULL)", false, true, 1},
		{"a concurrent claim of a dead record, committed: FOR SHARE reads the latest version",
			"INSERT INTO %s VALUES ('\\x6b', 'old', 'old', true, 0, NULL)",
			"UPDATE %s SET token = 'w', fingerprint = 'writer', completed = false, until_ns = $1", true, false, 1},
		{"a concurrent claim of a dead record, rolled back",
			"INSERT INTO %s VALUES ('\\x6b', 'old', 'old', true, 0, NULL)",
			"UPDATE %s SET token = 'w', fingerprint = 'writer', completed = false, until_ns = $1", false, true, 1},
		{"a release and a new claim, committed",
			"INSERT INTO %s VALUES ('\\x6b', 'old', 'old', false, $1, NULL)",
			"DELETE FROM %s; INSERT INTO %s VALUES ('\\x6b', 'w', 'writer', false, $1, NULL)", true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := newTable()
			var queries queryCounter
			s := newStore(t, newPool(t, srv.URL, func(c *pgxpool.Config) { c.ConnConfig.Tracer = &queries }), table)
			until := t0.Add(lease).UnixNano()
			sql := func(q string) string { return strings.ReplaceAll(q, "%s", table) }
			args := func(q string) []any {
				if strings.Contains(q, "$1") {
					return []any{until}
				}
				return nil
			}
			if tc.before != "" {
				if _, err := pool.Exec(ctx, sql(tc.before), args(tc.before)...); err != nil {
					t.Fatal(err)
				}
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			for q := range strings.SplitSeq(sql(tc.writer), "; ") {
				if _, err := tx.Exec(ctx, q, args(q)...); err != nil {
					t.Fatal(err)
				}
			}
			type result struct {
				c   idempotency.Claim
				err error
			}
			done := make(chan result, 1)
			q0 := queries.n.Load()
			go func() {
				c, err := s.Claim(ctx, "k", "claimer", []byte("claimer"), t0, lease)
				done <- result{c, err}
			}()
			waitForLockWaiter(t, pool)
			if tc.commit {
				err = tx.Commit(ctx)
			} else {
				err = tx.Rollback(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("Claim: %v", r.err)
			}
			if r.c.Acquired != tc.acquired || (!tc.acquired && string(r.c.Fingerprint) != "writer") {
				t.Errorf("Claim: got %+v, want acquired %v (else the writer's record)", r.c, tc.acquired)
			}
			if got := queries.n.Load() - q0; got != tc.statements {
				t.Errorf("Claim: got %d statements, want %d", got, tc.statements)
			}
		})
	}
}

// waitForLockWaiter returns once a backend waits for a lock.
func waitForLockWaiter(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := pool.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond) // polling the server, not timing the logic
	}
	t.Fatal("no Claim waited for the writer's lock")
}

// testStoredRow: the row holds the key as given (the middleware hashed it), the sealed
// response as given, and the times in Unix nanoseconds.
func testStoredRow(t *testing.T, _ *testserver.PostgresServer, pool *pgxpool.Pool) {
	ctx := context.Background()
	table := newTable()
	s := newStore(t, pool, table)
	key := "\x00hashed\xffkey"
	if _, err := s.Claim(ctx, key, "tok\x00", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	var (
		gotKey, gotToken, gotFP, gotResp []byte
		completed                        bool
		until                            int64
	)
	read := func() {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT key, token, fingerprint, completed, until_ns, response FROM "+table).
			Scan(&gotKey, &gotToken, &gotFP, &completed, &until, &gotResp); err != nil {
			t.Fatal(err)
		}
	}
	// The suite allows a millisecond; this store keeps the caller's nanoseconds.
	if c, err := s.Claim(ctx, key, "x", nil, t0.Add(time.Second), lease); err != nil || !c.LeaseExpires.Equal(t0.Add(lease)) {
		t.Errorf("Claim of the live record: got LeaseExpires %v, %v; want %v exactly", c.LeaseExpires, err, t0.Add(lease))
	}
	read()
	if string(gotKey) != key || string(gotToken) != "tok\x00" || string(gotFP) != "fp" || completed || until != t0.Add(lease).UnixNano() || gotResp != nil {
		t.Errorf("in progress: got key %q, token %q, fp %q, completed %v, until %d, response %q; want the claim as given",
			gotKey, gotToken, gotFP, completed, until, gotResp)
	}
	if err := s.Complete(ctx, key, "tok\x00", []byte("sealed\x00"), t0, ttl); err != nil {
		t.Fatal(err)
	}
	read()
	if !completed || until != t0.Add(ttl).UnixNano() || string(gotResp) != "sealed\x00" {
		t.Errorf("completed: got completed %v, until %d, response %q; want true, %d, the response as given",
			completed, until, gotResp, t0.Add(ttl).UnixNano())
	}
}

// testOneStatement: Claim, Complete and Release are one statement each; once the
// connection has prepared them, one round trip each.
func testOneStatement(t *testing.T, srv *testserver.PostgresServer, _ *pgxpool.Pool) {
	var queries queryCounter
	var writes writeCounter
	pool := newPool(t, srv.URL, func(c *pgxpool.Config) {
		c.MaxConns = 1
		c.ConnConfig.Tracer = &queries
		c.ConnConfig.DialFunc = writes.dial
	})
	s := newStore(t, pool, "")
	ctx := context.Background()
	calls := []struct {
		name string
		fn   func(i int) error
	}{
		{"Claim", func(i int) error {
			_, err := s.Claim(ctx, fmt.Sprint("k", i), "a", []byte("fp"), t0, lease)
			return err
		}},
		{"Claim of a live record", func(i int) error {
			_, err := s.Claim(ctx, fmt.Sprint("k", i), "b", []byte("fp"), t0, lease)
			return err
		}},
		{"Complete", func(i int) error { return s.Complete(ctx, fmt.Sprint("k", i), "a", []byte("r"), t0, ttl) }},
		{"Replay", func(i int) error {
			_, err := s.Claim(ctx, fmt.Sprint("k", i), "b", []byte("fp"), t0, lease)
			return err
		}},
	}
	for _, c := range calls {
		if err := c.fn(0); err != nil { // prepares the statements
			t.Fatal(err)
		}
	}
	if _, err := s.Claim(ctx, "r0", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "r0", "a", t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range calls {
		q, w := queries.n.Load(), writes.n.Load()
		if err := c.fn(1); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if gq, gw := queries.n.Load()-q, writes.n.Load()-w; gq != 1 || gw != 1 {
			t.Errorf("%s: got %d statements, %d round trips; want 1, 1", c.name, gq, gw)
		}
	}
	if _, err := s.Claim(ctx, "r1", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	q, w := queries.n.Load(), writes.n.Load()
	if err := s.Release(ctx, "r1", "a", t0); err != nil {
		t.Fatal(err)
	}
	if gq, gw := queries.n.Load()-q, writes.n.Load()-w; gq != 1 || gw != 1 {
		t.Errorf("Release: got %d statements, %d round trips; want 1, 1", gq, gw)
	}
}

// testDeleteExpired: the sweep deletes dead records only, in batches, and counts them.
func testDeleteExpired(t *testing.T, _ *testserver.PostgresServer, pool *pgxpool.Pool) {
	ctx := context.Background()
	table := newTable()
	s := newStore(t, pool, table)
	// 2,500 completed records dead at t0+ttl, one in progress dead at t0+lease.
	if _, err := pool.Exec(ctx, `INSERT INTO `+table+` (key, token, fingerprint, completed, until_ns, response)
		SELECT convert_to('old-' || i, 'UTF8'), '\x00', '\x00', true, $1, '\x00' FROM generate_series(1, 2500) i`,
		t0.Add(ttl).UnixNano()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "crashed", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Claim(ctx, "live", "a", []byte("fp"), t0.Add(ttl), lease); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want int64
		left int
	}{
		{"nothing dead yet", t0.Add(lease - time.Nanosecond), 0, 2502},
		{"the crashed lease", t0.Add(lease), 1, 2501},
		{"the completed records, in three batches", t0.Add(ttl), 2500, 1},
		{"the live claim stays", t0.Add(ttl + lease - time.Nanosecond), 0, 1},
		{"then goes", t0.Add(ttl + lease), 1, 0},
		{"an empty table", t0.Add(2 * ttl), 0, 0},
	} {
		n, err := s.DeleteExpired(ctx, tc.now)
		if err != nil || n != tc.want {
			t.Errorf("%s: DeleteExpired: got %d, %v; want %d, nil", tc.name, n, err, tc.want)
		}
		if got := count(); got != tc.left {
			t.Errorf("%s: got %d records left, want %d", tc.name, got, tc.left)
		}
	}
}

// testCanceled: a cancelled context returns its error and writes nothing.
func testCanceled(t *testing.T, _ *testserver.PostgresServer, pool *pgxpool.Pool) {
	table := newTable()
	s := newStore(t, pool, table)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); !errors.Is(err, context.Canceled) || !errors.Is(err, pgstore.ErrDatabase) {
		t.Errorf("Claim: got %v, want context.Canceled and ErrDatabase", err)
	}
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); !errors.Is(err, context.Canceled) {
		t.Errorf("Complete: got %v, want context.Canceled", err)
	}
	if err := s.Release(ctx, "k", "a", t0); !errors.Is(err, context.Canceled) {
		t.Errorf("Release: got %v, want context.Canceled", err)
	}
	if _, err := s.DeleteExpired(ctx, t0); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired: got %v, want context.Canceled", err)
	}
	if err := s.CreateSchema(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateSchema: got %v, want context.Canceled", err)
	}
	if c, err := s.Claim(context.Background(), "k", "b", []byte("fp"), t0, lease); err != nil || !c.Acquired {
		t.Errorf("Claim after the cancelled one: got %+v, %v; want acquired (nothing was written)", c, err)
	}
	// A deadline that passes while the statement waits on a row lock.
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(context.Background(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Claim(ctx, "k2", "a", []byte("fp"), t0, lease); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Claim blocked past its deadline: got %v, want context.DeadlineExceeded", err)
	}
}

func testInvalidDurations(t *testing.T, _ *testserver.PostgresServer, pool *pgxpool.Pool) {
	ctx := context.Background()
	s := newStore(t, pool, "")
	for _, d := range []time.Duration{0, -time.Second} {
		if c, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, d); err == nil || c.Acquired {
			t.Errorf("Claim with lease %v: got %+v, %v; want an error", d, c, err)
		}
	}
	if _, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if err := s.Complete(ctx, "k", "a", []byte("r"), t0, d); err == nil {
			t.Errorf("Complete with ttl %v: got nil, want an error", d)
		}
	}
	// The longest lease ends in 2262 at the latest, and is still live.
	if c, err := s.Claim(ctx, "long", "a", nil, t0, time.Duration(1<<63-1)); err != nil || !c.Acquired {
		t.Errorf("Claim with the longest lease: got %+v, %v; want acquired", c, err)
	}
	if c, err := s.Claim(ctx, "long", "b", nil, t0.Add(200*365*24*time.Hour), lease); err != nil || c.Acquired || len(c.Fingerprint) != 0 {
		t.Errorf("Claim of the longest lease, 200 years on: got %+v, %v; want the live record", c, err)
	}
}

// testDatabaseGone: with the pool closed every method fails with ErrDatabase and
// claims nothing.
func testDatabaseGone(t *testing.T, srv *testserver.PostgresServer, _ *pgxpool.Pool) {
	pool := newPool(t, srv.URL, nil)
	s := newStore(t, pool, "")
	pool.Close()
	ctx := context.Background()
	if c, err := s.Claim(ctx, "k", "a", []byte("fp"), t0, lease); !errors.Is(err, pgstore.ErrDatabase) || c.Acquired {
		t.Errorf("Claim: got %+v, %v; want ErrDatabase", c, err)
	}
	if err := s.Complete(ctx, "k", "a", []byte("r"), t0, ttl); !errors.Is(err, pgstore.ErrDatabase) {
		t.Errorf("Complete: got %v, want ErrDatabase", err)
	}
	if err := s.Release(ctx, "k", "a", t0); !errors.Is(err, pgstore.ErrDatabase) {
		t.Errorf("Release: got %v, want ErrDatabase", err)
	}
	if _, err := s.DeleteExpired(ctx, t0); !errors.Is(err, pgstore.ErrDatabase) {
		t.Errorf("DeleteExpired: got %v, want ErrDatabase", err)
	}
}
