package pgconsent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/authz/consent/pgconsent"
	"github.com/phikit/phikit/internal/testserver"
)

// benchRules returns the ten rules of patient p: permits for a few organizations and
// practitioners, purpose- and category-specific denies, and two revoked rules (as
// BenchmarkMemoryDecide in package consent).
func benchRules(p string, at time.Time) []consent.Rule {
	rules := []consent.Rule{
		{Patient: p, Actor: "Organization/org-9", Purpose: "TREAT", Decision: consent.Permit},
		{Patient: p, Actor: "Organization/org-12", Purpose: "TREAT", Decision: consent.Permit},
		{Patient: p, Actor: "Practitioner/prac-1", Decision: consent.Permit},
		{Patient: p, Actor: "Practitioner/prac-7", Category: "Observation", Decision: consent.Permit},
		{Patient: p, Purpose: "HRESCH", Decision: consent.Deny},
		{Patient: p, Purpose: "HMARKT", Decision: consent.Deny},
		{Patient: p, Category: "Condition", Actor: "Practitioner/prac-7", Decision: consent.Deny},
		{Patient: p, Purpose: "PUBHLTH", Category: "Immunization", Decision: consent.Permit},
		{Patient: p, Actor: "Organization/org-3", Decision: consent.Deny, Revoked: at},
		{Patient: p, Purpose: "HPAYMT", Decision: consent.Permit, Revoked: at},
	}
	for i := range rules {
		rules[i].ID = fmt.Sprintf("%s/consent-%d", p, i)
		rules[i].Created = at
	}
	return rules
}

// BenchmarkPostgresDecide measures a decision for a patient with 10 rules, in a table of
// 10,000 patients, on a loopback PostgreSQL, against two baselines on the same pool: the
// bare round trip (SELECT 1) and a primary-key lookup in the same table. It reports the
// round trips per call (writes on the connection): 1.
func BenchmarkPostgresDecide(b *testing.B) {
	const patients = 10_000
	srv := testserver.Postgres(b)
	var writes writeCounter
	pool := newPool(b, srv.URL, func(c *pgxpool.Config) { c.ConnConfig.DialFunc = writes.dial })
	ctx := context.Background()
	s := newStore(b, pool, pgconsent.Config{})

	at := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	var rows [][]any
	for i := range patients {
		for _, r := range benchRules(fmt.Sprintf("pat-%d", i), at) {
			var revoked any
			if !r.Revoked.IsZero() {
				revoked = r.Revoked
			}
			rows = append(rows, []any{r.ID, r.Patient, r.Actor, r.Purpose, r.Category, r.Decision.String(), r.Created, revoked})
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{pgconsent.DefaultTable},
		[]string{"id", "patient", "actor", "purpose", "category", "decision", "created", "revoked"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+pgconsent.DefaultTable); err != nil {
		b.Fatal(err)
	}

	permit := consent.Query{Patient: "pat-4711", Actor: "Practitioner/prac-1", ActorOrganization: "Organization/org-9", Purpose: "TREAT", Category: "Observation"}
	deny := permit
	deny.Purpose = "HRESCH"
	none := consent.Query{Patient: "pat-4711", Actor: "Device/app", Purpose: "COVERAGE", Category: "Observation"}

	// run runs call b.N times and reports the round trips it made.
	run := func(b *testing.B, call func() error) {
		b.ReportAllocs()
		if err := call(); err != nil { // prepares the statement on the connection
			b.Fatal(err)
		}
		start := writes.n.Load()
		for b.Loop() {
			if err := call(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(writes.n.Load()-start)/float64(b.N), "roundtrips/op")
	}
	b.Run("baseline-select-1", func(b *testing.B) {
		run(b, func() error {
			var n int
			return pool.QueryRow(ctx, "SELECT 1").Scan(&n)
		})
	})
	b.Run("baseline-pk-lookup", func(b *testing.B) {
		run(b, func() error {
			var d string
			return pool.QueryRow(ctx, "SELECT decision FROM "+pgconsent.DefaultTable+" WHERE id = $1", "pat-4711/consent-4").Scan(&d)
		})
	})
	for _, bc := range []struct {
		name string
		q    consent.Query
		want consent.Decision
	}{
		{"permit", permit, consent.Permit},
		{"deny", deny, consent.Deny},
		{"no-consent", none, consent.NoConsent},
	} {
		b.Run(bc.name, func(b *testing.B) {
			run(b, func() error {
				d, _, err := s.Decide(ctx, bc.q)
				if err == nil && d != bc.want {
					err = fmt.Errorf("Decide = %v, want %v", d, bc.want)
				}
				return err
			})
		})
	}
}
