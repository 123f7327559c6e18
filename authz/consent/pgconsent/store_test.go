package pgconsent_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/authz/consent/consenttest"
	"github.com/phikit/phikit/authz/consent/pgconsent"
	"github.com/phikit/phikit/internal/testserver"
)

var query = consent.Query{Patient: "pat-SECRET-1", Actor: "Practitioner/prac-1", ActorOrganization: "Organization/org-9", Purpose: "TREAT", Category: "Observation"}

func permitAll(id string) consent.Rule {
	return consent.Rule{ID: id, Patient: query.Patient, Decision: consent.Permit}
}

// TestPostgres runs the tests that need a PostgreSQL on one server, each on tables of
// its own.
func TestPostgres(t *testing.T) {
	srv := testserver.Postgres(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *testserver.PostgresServer)
	}{
		{"Conformance", testConformance},
		{"New", testNew},
		{"CreateSchema", testCreateSchema},
		{"StoredRow", testStoredRow},
		{"OneStatement", testOneStatement},
		{"DatabaseGone", testDatabaseGone},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, srv) })
	}
}

// testConformance runs the suite: each store on a table of its own over one pool, and
// each pair of replicas on a table of its own over two pools.
func testConformance(t *testing.T, srv *testserver.PostgresServer) {
	pool := newPool(t, srv.URL, nil)
	consenttest.Run(t, func(t *testing.T) consenttest.StoreAdmin {
		return newStore(t, pool, pgconsent.Config{Table: newTable("conformance")})
	})
	consenttest.RunReplicas(t, func(t *testing.T) (consenttest.StoreAdmin, consenttest.StoreAdmin) {
		cfg := pgconsent.Config{Table: newTable("replicas")}
		a := newStore(t, newPool(t, srv.URL, nil), cfg)
		b := newStore(t, newPool(t, srv.URL, nil), cfg)
		return a, b
	})
}

func testNew(t *testing.T, srv *testserver.PostgresServer) {
	pool := newPool(t, srv.URL, nil)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA phi"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, table string
		valid       bool
	}{
		{"default", "", true},
		{"plain", "consent_rules", true},
		{"leading underscore", "_consent", true},
		{"digits", "consent2", true},
		{"schema-qualified", "phi.consent_rules", true},
		{"reserved word", "user", true},
		{"reserved word in a reserved schema", "phi.select", true},
		{"name at the limit", strings.Repeat("n", 51), true},
		{"upper case", "Consent", false},
		{"leading digit", "1consent", false},
		{"hyphen", "consent-rules", false},
		{"space", "consent rules", false},
		{"quote", `consent"; DROP TABLE x; --`, false},
		{"semicolon", "consent;drop", false},
		{"three parts", "db.phi.consent", false},
		{"empty schema", ".consent", false},
		{"empty name", "phi.", false},
		{"name too long", strings.Repeat("n", 52), false},
		{"schema too long", strings.Repeat("s", 64) + ".consent", false},
		{"non-ASCII", "cons\u00e9nt", false},
		{"NUL", "consent\x00", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := pgconsent.New(ctx, pool, pgconsent.Config{Table: tc.table})
			if !tc.valid {
				if err == nil {
					t.Errorf("New(Table %q) = nil error, want an error", tc.table)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(Table %q) = %v, want nil", tc.table, err)
			}
			// The table works: created, written and read.
			if err := s.CreateSchema(ctx); err != nil {
				t.Fatalf("CreateSchema = %v", err)
			}
			if err := s.Put(ctx, permitAll("r")); err != nil {
				t.Fatalf("Put = %v", err)
			}
			if d, ids, err := s.Decide(ctx, query); d != consent.Permit || len(ids) != 1 || err != nil {
				t.Errorf("Decide = %v %q %v, want permit [r] nil", d, ids, err)
			}
		})
	}
	// The default table is where DefaultTable says.
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+pgconsent.DefaultTable).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in %s = %d, %v, want 1", pgconsent.DefaultTable, n, err)
	}
	if _, err := pgconsent.New(ctx, nil, pgconsent.Config{}); err == nil {
		t.Error("New without a pool = nil error, want an error")
	}
}

// testCreateSchema: idempotent, safe for replicas starting together, and indexed.
func testCreateSchema(t *testing.T, srv *testserver.PostgresServer) {
	ctx := context.Background()
	table := newTable("schema")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		pool := newPool(t, srv.URL, nil)
		s, err := pgconsent.New(ctx, pool, pgconsent.Config{Table: table})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range 2 {
				errs <- s.CreateSchema(ctx)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("CreateSchema = %v, want nil", err)
		}
	}
	pool := newPool(t, srv.URL, nil)
	var def string
	if err := pool.QueryRow(ctx, "SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname = $2",
		table, table+"_patient_idx").Scan(&def); err != nil {
		t.Fatalf("the patient index: %v", err)
	}
	if !strings.Contains(def, "(patient) WHERE (revoked IS NULL)") {
		t.Errorf("index = %s, want one on patient where revoked IS NULL", def)
	}
	// The table's own constraints refuse what Validate would.
	for _, stmt := range []string{
		"INSERT INTO " + table + " (id, patient, decision, created) VALUES ('a', '', 'permit', now())",
		"INSERT INTO " + table + " (id, patient, decision, created) VALUES ('b', 'p', 'maybe', now())",
		"INSERT INTO " + table + " (id, patient, decision) VALUES ('c', 'p', 'permit')",
	} {
		if _, err := pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s: nil error, want a constraint violation", stmt)
		}
	}
}

// testStoredRow reads back what Put and Revoke wrote.
func testStoredRow(t *testing.T, srv *testserver.PostgresServer) {
	pool := newPool(t, srv.URL, nil)
	ctx := context.Background()
	now := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	table := newTable("stored")
	s := newStore(t, pool, pgconsent.Config{Table: table, Now: func() time.Time { return now }})
	created := time.Date(2024, 1, 2, 3, 4, 5, 6007, time.UTC)
	for _, r := range []consent.Rule{
		{ID: "explicit", Patient: "pat-1", Actor: "Organization/org-9", Purpose: "TREAT", Category: "Observation", Decision: consent.Deny, Created: created},
		{ID: "stamped", Patient: "pat-1", Decision: consent.Permit},
	} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Revoke(ctx, "stamped", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "stamped", now.Add(time.Hour)); err != nil { // keeps the first time
		t.Fatal(err)
	}
	type row struct {
		id, patient, actor, purpose, category, decision string
		created                                         time.Time
		revoked                                         *time.Time
	}
	rows, err := pool.Query(ctx, "SELECT id, patient, actor, purpose, category, decision, created, revoked FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.patient, &r.actor, &r.purpose, &r.category, &r.decision, &r.created, &r.revoked); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"explicit", "pat-1", "Organization/org-9", "TREAT", "Observation", "deny", created.Truncate(time.Microsecond), nil},
		{"stamped", "pat-1", "", "", "", "permit", now.Truncate(time.Microsecond), new(now.Truncate(time.Microsecond))},
	}
	if len(got) != len(want) {
		t.Fatalf("rows = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.id != w.id || g.patient != w.patient || g.actor != w.actor || g.purpose != w.purpose ||
			g.category != w.category || g.decision != w.decision || !g.created.Equal(w.created) ||
			(g.revoked == nil) != (w.revoked == nil) || (g.revoked != nil && !g.revoked.Equal(*w.revoked)) {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
}

// testOneStatement: every call is one statement, and Decide reads the database on every
// call, however often the same query was asked.
func testOneStatement(t *testing.T, srv *testserver.PostgresServer) {
	var counter queryCounter
	pool := newPool(t, srv.URL, func(c *pgxpool.Config) { c.ConnConfig.Tracer = &counter })
	ctx := context.Background()
	s := newStore(t, pool, pgconsent.Config{Table: newTable("onestatement")})
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Put", func() error { return s.Put(ctx, permitAll("all")) }},
		{"Decide", func() error { _, _, err := s.Decide(ctx, query); return err }},
		{"Decide again", func() error { _, _, err := s.Decide(ctx, query); return err }},
		{"Revoke", func() error { return s.Revoke(ctx, "all", time.Time{}) }},
		{"Decide after Revoke", func() error { _, _, err := s.Decide(ctx, query); return err }},
		{"Put of the revoked id", func() error {
			if err := s.Put(ctx, permitAll("all")); !errors.Is(err, consent.ErrRuleRevoked) {
				return err
			}
			return nil
		}},
		{"Revoke of an unknown id", func() error {
			if err := s.Revoke(ctx, "unknown", time.Time{}); !errors.Is(err, consent.ErrRuleNotFound) {
				return err
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := counter.n.Load()
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			if got := counter.n.Load() - start; got != 1 {
				t.Errorf("statements = %d, want 1", got)
			}
		})
	}
	// Invalid input never reaches the database.
	start := counter.n.Load()
	_, _, _ = s.Decide(ctx, consent.Query{})
	_ = s.Put(ctx, consent.Rule{})
	_ = s.Revoke(ctx, "", time.Time{})
	if got := counter.n.Load() - start; got != 0 {
		t.Errorf("statements for invalid input = %d, want 0", got)
	}
}

// testDatabaseGone: without an answer from the database, every call fails with
// ErrDatabase, Decide answers Deny, and no error names the patient.
func testDatabaseGone(t *testing.T, srv *testserver.PostgresServer) {
	ctx := context.Background()
	check := func(t *testing.T, s *pgconsent.Store, ctx context.Context, also error) {
		t.Helper()
		d, ids, err := s.Decide(ctx, query)
		if !errors.Is(err, pgconsent.ErrDatabase) || (also != nil && !errors.Is(err, also)) {
			t.Errorf("Decide error = %v, want an error wrapping ErrDatabase (and %v)", err, also)
		}
		if d != consent.Deny || ids != nil {
			t.Errorf("Decide = %v %q with an error, want deny and no ids", d, ids)
		}
		r := permitAll("new")
		errs := []error{err, s.Put(ctx, r), s.Revoke(ctx, "all", time.Time{})}
		for i, err := range errs[1:] {
			if !errors.Is(err, pgconsent.ErrDatabase) {
				t.Errorf("%s error = %v, want an error wrapping ErrDatabase", []string{"Put", "Revoke"}[i], err)
			}
		}
		for _, err := range errs {
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q names the patient", err)
			}
		}
	}
	// permitted returns a store on a fresh table of pool, holding a rule that permits
	// query.
	permitted := func(t *testing.T, pool *pgxpool.Pool) (*pgconsent.Store, string) {
		t.Helper()
		table := newTable("gone")
		s := newStore(t, pool, pgconsent.Config{Table: table})
		if err := s.Put(ctx, permitAll("all")); err != nil {
			t.Fatal(err)
		}
		if d, _, err := s.Decide(ctx, query); d != consent.Permit || err != nil {
			t.Fatalf("Decide = %v, %v, want permit", d, err)
		}
		return s, table
	}

	t.Run("pool closed", func(t *testing.T) {
		pool := newPool(t, srv.URL, nil)
		s, _ := permitted(t, pool)
		pool.Close()
		check(t, s, ctx, nil)
	})
	t.Run("table dropped", func(t *testing.T) {
		pool := newPool(t, srv.URL, nil)
		s, table := permitted(t, pool)
		if _, err := pool.Exec(ctx, "DROP TABLE "+table); err != nil {
			t.Fatal(err)
		}
		check(t, s, ctx, nil)
	})
	t.Run("server stopped", func(t *testing.T) {
		var s *pgconsent.Store
		var pool *pgxpool.Pool
		t.Run("running", func(t *testing.T) {
			// The server of this subtest is stopped when it ends.
			pool = newPool(t, testserver.Postgres(t).URL, nil)
			s, _ = permitted(t, pool)
		})
		if s == nil {
			t.FailNow()
		}
		check(t, s, ctx, nil)
	})
	t.Run("unresponsive", func(t *testing.T) {
		// A partition: the connection stays open, nothing comes back. The caller's
		// deadline bounds the wait.
		p := newProxy(t, net.JoinHostPort(srv.Host, itoa(srv.Port)))
		pool := newPool(t, p.via(t, srv.URL), nil)
		s, _ := permitted(t, pool)
		p.freeze()
		// Thawed before the pool closes: pgx cancels the broken connection's query
		// through the proxy, and would wait 15s for it.
		defer p.thaw()
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		check(t, s, ctx, context.DeadlineExceeded)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("calls took %v past a 300ms deadline", took)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		pool := newPool(t, "postgres://postgres@"+addr+"/phikit_test?sslmode=disable&connect_timeout=2", nil)
		if _, err := pgconsent.New(ctx, pool, pgconsent.Config{}); !errors.Is(err, pgconsent.ErrDatabase) {
			t.Errorf("New = %v, want an error wrapping ErrDatabase", err)
		}
	})
}
