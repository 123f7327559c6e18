package pgconsent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/internal/pgident"
)

// DefaultTable is the table of a Config whose Table is empty.
const DefaultTable = "phikit_consent_rules"

// indexSuffix names the table's index: TABLE_patient_idx.
const indexSuffix = "_patient_idx"

// Config configures a Store.
type Config struct {
	// Table is the table that holds the rules: a lower-case SQL identifier
	// ([a-z_][a-z0-9_]*), optionally qualified by a schema ("phi.consent_rules"), the
	// table's name at most 51 bytes so that its index's name fits. Empty means
	// DefaultTable, in the connection's search_path. Stores with the same database and
	// Table share their rules.
	Table string
	// Now returns the current time, recorded as a rule's Created when Put is given a
	// zero one and as the time of a Revoke given a zero one. It takes no part in
	// decisions. Nil means time.Now.
	Now func() time.Time
}

// Store is a consent.Store and consent.Admin kept in a PostgreSQL table and shared by
// every replica that uses the same database and table. Every call is one statement; no
// answer is cached, so a rule revoked through one replica stops applying on the next
// query of every other. Build it with New. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	lockKey string // the advisory lock key of CreateSchema
	schema  string // CREATE TABLE and CREATE INDEX statements
	decide  string
	put     string
	revoke  string
}

var (
	_ consent.Store = (*Store)(nil)
	_ consent.Admin = (*Store)(nil)
)

// New checks cfg, checks that the database answers (a Ping, bounded by ctx), and returns
// a Store on pool. It neither creates nor checks the table: call CreateSchema, or create
// the table with your migrations (CreateSchema's documentation has the statements).
// Point pool at the primary: see the package documentation.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgconsent: pool is required")
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	tab, err := pgident.ParseTable(table, indexSuffix)
	if err != nil {
		return nil, fmt.Errorf("pgconsent: Table %q: %v", table, err)
	}
	t, name := tab.Quoted(), tab.Name
	s := &Store{
		pool:    pool,
		now:     cfg.Now,
		lockKey: "phikit/pgconsent " + table,
		schema: `CREATE TABLE IF NOT EXISTS ` + t + ` (
	id       text PRIMARY KEY,
	patient  text NOT NULL CHECK (patient <> ''),
	actor    text NOT NULL DEFAULT '',
	purpose  text NOT NULL DEFAULT '',
	category text NOT NULL DEFAULT '',
	decision text NOT NULL CHECK (decision IN ('permit', 'deny')),
	created  timestamptz NOT NULL,
	revoked  timestamptz
);
CREATE INDEX IF NOT EXISTS "` + name + indexSuffix + `" ON ` + t + ` (patient) WHERE revoked IS NULL`,
		// The rules that apply, grouped by decision, deny first: one row at most.
		decide: `SELECT decision, array_agg(id) FROM ` + t + `
WHERE patient = $1 AND revoked IS NULL
	AND (actor = '' OR actor = $2 OR actor = $3)
	AND (purpose = '' OR purpose = $4)
	AND (category = '' OR category = $5)
GROUP BY decision
ORDER BY decision = 'deny' DESC
LIMIT 1`,
		// A revoked rule is never replaced: no row is affected.
		put: `INSERT INTO ` + t + ` AS r (id, patient, actor, purpose, category, decision, created, revoked)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (id) DO UPDATE SET patient = EXCLUDED.patient, actor = EXCLUDED.actor,
	purpose = EXCLUDED.purpose, category = EXCLUDED.category, decision = EXCLUDED.decision,
	created = EXCLUDED.created, revoked = EXCLUDED.revoked
WHERE r.revoked IS NULL`,
		// Whether the rule exists, revoked now or before: the SELECT sees the table as it
		// was before the UPDATE.
		revoke: `WITH u AS (UPDATE ` + t + ` SET revoked = $2 WHERE id = $1 AND revoked IS NULL RETURNING id)
SELECT EXISTS (SELECT 1 FROM u) OR EXISTS (SELECT 1 FROM ` + t + ` WHERE id = $1)`,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := pool.Ping(ctx); err != nil {
		return nil, fail(ctx, "new", err)
	}
	return s, nil
}

// CreateSchema creates the table and its index unless they exist, in one transaction
// that holds an advisory lock, so that replicas starting together may all call it. It
// runs, with TABLE the quoted Config.Table and NAME its name without the schema:
//
//	CREATE TABLE IF NOT EXISTS TABLE (
//		id       text PRIMARY KEY,
//		patient  text NOT NULL CHECK (patient <> ''),
//		actor    text NOT NULL DEFAULT '',
//		purpose  text NOT NULL DEFAULT '',
//		category text NOT NULL DEFAULT '',
//		decision text NOT NULL CHECK (decision IN ('permit', 'deny')),
//		created  timestamptz NOT NULL,
//		revoked  timestamptz
//	);
//	CREATE INDEX IF NOT EXISTS "NAME_patient_idx" ON TABLE (patient) WHERE revoked IS NULL;
//
// An empty Actor, Purpose or Category (any) is stored as the empty string. It never
// alters an existing table: a table of the same name but another shape makes the other
// methods fail with ErrDatabase.
func (s *Store) CreateSchema(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", s.lockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, s.schema)
		return err
	})
	if err != nil {
		return fail(ctx, "create schema", err)
	}
	return nil
}

// Decide implements consent.Store in one statement, a round trip once the connection
// has prepared it. An error wraps ErrDatabase (or consent.ErrInvalidQuery, or ctx's
// error), and comes with consent.Deny.
func (s *Store) Decide(ctx context.Context, q consent.Query) (consent.Decision, []string, error) {
	if err := q.Validate(); err != nil {
		return consent.Deny, nil, err
	}
	if err := ctx.Err(); err != nil {
		return consent.Deny, nil, fail(ctx, "decide", err)
	}
	var decision string
	var ids []string
	err := s.pool.QueryRow(ctx, s.decide, q.Patient, q.Actor, q.ActorOrganization, q.Purpose, q.Category).Scan(&decision, &ids)
	if errors.Is(err, pgx.ErrNoRows) {
		return consent.NoConsent, nil, nil
	}
	if err != nil {
		return consent.Deny, nil, fail(ctx, "decide", err)
	}
	var d consent.Decision
	switch decision {
	case "deny":
		d = consent.Deny
	case "permit":
		d = consent.Permit
	default:
		return consent.Deny, nil, fail(ctx, "decide", errors.New("a rule has an unknown decision"))
	}
	// Byte order, whatever the database's collation.
	slices.Sort(ids)
	return d, ids, nil
}

// Put implements consent.Admin in one statement: INSERT … ON CONFLICT (id) DO UPDATE,
// which updates nothing when the existing rule is revoked (consent.ErrRuleRevoked).
// Times are stored to the microsecond.
func (s *Store) Put(ctx context.Context, r consent.Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "put", err)
	}
	if r.Created.IsZero() {
		r.Created = s.now()
	}
	var revoked any // NULL while active
	if !r.Revoked.IsZero() {
		revoked = r.Revoked
	}
	tag, err := s.pool.Exec(ctx, s.put, r.ID, r.Patient, r.Actor, r.Purpose, r.Category, r.Decision.String(), r.Created, revoked)
	if err != nil {
		return fail(ctx, "put", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgconsent: put: %w", consent.ErrRuleRevoked)
	}
	return nil
}

// Revoke implements consent.Admin in one statement: UPDATE … SET revoked = $2 WHERE
// id = $1 AND revoked IS NULL, which also reports whether the rule exists.
func (s *Store) Revoke(ctx context.Context, id string, at time.Time) error {
	if err := consent.ValidateRuleID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "revoke", err)
	}
	if at.IsZero() {
		at = s.now()
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, s.revoke, id, at).Scan(&exists); err != nil {
		return fail(ctx, "revoke", err)
	}
	if !exists {
		return fmt.Errorf("pgconsent: revoke: %w", consent.ErrRuleNotFound)
	}
	return nil
}

// fail wraps err from op in ErrDatabase, and in ctx's error when ctx is done, so that
// callers can tell a deadline from a database failure with errors.Is.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgconsent: %s: %w: %w: %w", op, ErrDatabase, cerr, err)
	}
	return fmt.Errorf("pgconsent: %s: %w: %w", op, ErrDatabase, err)
}
