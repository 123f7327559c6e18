package pgbreakglass_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authn"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/breakglass/breakglasstest"
	"github.com/phikit/phikit/authz/breakglass/pgbreakglass"
	"github.com/phikit/phikit/internal/testserver"
)

func TestNew(t *testing.T) {
	pool := &pgxpool.Pool{} // New sends nothing: an unconnected pool is enough
	for _, tc := range []struct {
		table string
		ok    bool
	}{
		{"", true},
		{"grants", true},
		{"phi.grants", true},
		{"_g2", true},
		{"a.b.c", false},
		{"Grants", false},
		{"2grants", false},
		{"grants;drop table x", false},
		{`"grants"`, false},
		{"phi.", false},
		{".grants", false},
		{"g-rants", false},
		{strings.Repeat("g", 48), true},
		{strings.Repeat("g", 49), false},
	} {
		s, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: tc.table})
		if (err == nil) != tc.ok || (s != nil) != tc.ok {
			t.Errorf("New(Table %q) = %v, %v; want ok %v", tc.table, s != nil, err, tc.ok)
		}
	}
	if _, err := pgbreakglass.New(nil, pgbreakglass.Config{}); err == nil {
		t.Error("New(nil) = nil error, want one")
	}
}

// TestPostgres runs everything that needs a real PostgreSQL against one cluster.
func TestPostgres(t *testing.T) {
	srv := testserver.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	var n atomic.Int64
	newStore := func(t *testing.T) *pgbreakglass.Store {
		t.Helper()
		s, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: fmt.Sprintf("grants_%d", n.Add(1))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateSchema(ctx); err != nil {
			t.Fatalf("CreateSchema = %v", err)
		}
		return s
	}

	t.Run("Conformance", func(t *testing.T) {
		breakglasstest.Run(t, func(t *testing.T) breakglass.Store { return newStore(t) })
	})

	t.Run("SchemaQualifiedTable", func(t *testing.T) {
		if _, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS phi`); err != nil {
			t.Fatal(err)
		}
		breakglasstest.Run(t, func(t *testing.T) breakglass.Store {
			s, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: fmt.Sprintf("phi.grants_%d", n.Add(1))})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSchema(ctx); err != nil {
				t.Fatal(err)
			}
			return s
		})
	})

	t.Run("CreateSchemaConcurrentAndRepeated", func(t *testing.T) {
		s, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: "grants_shared_schema"})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = s.CreateSchema(ctx) })
		}
		wg.Wait()
		for i, err := range append(errs, s.CreateSchema(ctx)) {
			if err != nil {
				t.Errorf("CreateSchema %d = %v, want nil", i, err)
			}
		}
	})

	t.Run("NoTable", func(t *testing.T) {
		s, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: "never_created"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Active(ctx, "dr-a", "pat-3", time.Now()); !errors.Is(err, breakglass.ErrStore) {
			t.Errorf("Active without the table = %v, want ErrStore", err)
		}
	})

	t.Run("ActiveUsesTheIndex", func(t *testing.T) {
		newStore(t)
		table := fmt.Sprintf("grants_%d", n.Load())
		if _, err := pool.Exec(ctx, `INSERT INTO `+table+` SELECT 'g'||i, 'dr-'||(i % 500), 'Practitioner/x', 'pat-'||i, 'ETREAT', 'justification text', now(), now() + interval '15 minutes', CASE WHEN i % 2 = 0 THEN now() END, NULL, '', '' FROM generate_series(1, 20000) i`); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `ANALYZE `+table); err != nil {
			t.Fatal(err)
		}
		rows, err := pool.Query(ctx, `EXPLAIN (FORMAT TEXT) SELECT id FROM `+table+` WHERE actor = $1 AND patient = $2 AND closed_at IS NULL AND expires_at > $3 ORDER BY expires_at DESC LIMIT 1`,
			"dr-1", "pat-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if want := table + "_open"; !strings.Contains(plan, want) {
			t.Errorf("plan %q does not use %s", plan, want)
		}
	})

	t.Run("TwoReplicas", func(t *testing.T) {
		s := newStore(t)
		clk := &clock{t: time.Now().Truncate(time.Millisecond)}
		events := &sink{}
		replica := func() *breakglass.BreakGlass {
			bg, err := breakglass.New(breakglass.Config{
				Store:         s,
				EntitledRoles: []string{"emergency"},
				Audit:         events,
				Alert:         func(context.Context, breakglass.Grant) {},
				Now:           clk.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			return bg
		}
		a, b := replica(), replica()
		p := &authn.Principal{Subject: "dr-a", Roles: []string{"emergency"}, AMR: []string{"mfa"}, AuthTime: clk.Now()}

		g, err := a.Open(ctx, p, "pat-3", "ETREAT", "Unconscious patient in the ED.")
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := b.Active(ctx, p, "pat-3"); err != nil || !ok || got.ID != g.ID {
			t.Fatalf("Active on the other replica = %s, %v, %v; want %s", got.ID, ok, err, g.ID)
		}
		again, err := b.Open(ctx, p, "pat-3", "ETREAT", "Unconscious patient in the ED.")
		if err != nil || again.ID != g.ID {
			t.Errorf("Open on the other replica = %s, %v; want the grant held, %s", again.ID, err, g.ID)
		}
		if err := b.Close(ctx, p, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := a.Active(ctx, p, "pat-3"); err != nil || ok {
			t.Errorf("Active on the first replica after Close on the other = %v, %v; want false", ok, err)
		}

		// An expired grant swept by both replicas at once is closed, and its stop
		// written, once.
		g2, err := a.Open(ctx, p, "pat-4", "BTG", "Unconscious patient in the ED.")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		var wg sync.WaitGroup
		var swept atomic.Int64
		for _, r := range []*breakglass.BreakGlass{a, b, a, b} {
			wg.Go(func() {
				n, err := r.SweepExpired(ctx)
				if err != nil {
					t.Errorf("SweepExpired = %v", err)
				}
				swept.Add(int64(n))
			})
		}
		wg.Wait()
		stops := 0
		for _, e := range events.all() {
			if e.Type == breakglass.EventOverrideStopped && e.Entities[1].ID == g2.ID {
				stops++
			}
		}
		if swept.Load() != 1 || stops != 1 {
			t.Errorf("sweeps closed %d and wrote %d stops for the expired grant, want 1 and 1", swept.Load(), stops)
		}
		if pending, err := a.PendingReview(ctx); err != nil || len(pending) != 2 {
			t.Errorf("PendingReview = %d, %v; want 2", len(pending), err)
		}
	})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type sink struct {
	mu     sync.Mutex
	events []audit.Event
}

func (s *sink) Write(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := *e
	ev.Entities = append([]audit.Entity(nil), e.Entities...)
	s.events = append(s.events, ev)
	return nil
}

func (s *sink) all() []audit.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]audit.Event(nil), s.events...)
}
