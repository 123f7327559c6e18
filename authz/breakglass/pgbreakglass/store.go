package pgbreakglass

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/internal/pgident"
)

// DefaultTable is the table of a Config whose Table is empty.
const DefaultTable = "phikit_breakglass_grants"

// DB is the part of a pgx connection the Store uses. *pgxpool.Pool, *pgx.Conn and pgx.Tx
// satisfy it.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Config configures a Store.
type Config struct {
	// Table is the grants table: a lowercase identifier ("grants") or a schema-qualified
	// one ("phi.grants"), each part at most 48 characters of a-z, 0-9 and _, not starting
	// with a digit. Empty means DefaultTable, in the connection's search_path. Stores
	// on the same database and Table share their grants.
	Table string
}

// Store is a breakglass.Store in PostgreSQL, shared by every replica connected to the
// same database and table. Build it with New and create its table with CreateSchema.
// It is safe for concurrent use.
type Store struct {
	db    DB
	table string // quoted, possibly schema-qualified
	lock  string // the advisory-lock name of CreateSchema
	base  string // the unquoted table name, for index names

	qInsert, qGet, qActive, qClose, qExists, qExpired, qPending, qReview string
}

var _ breakglass.Store = (*Store)(nil)

// New checks cfg and returns a Store that uses db. It sends nothing to the database.
func New(db DB, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("pgbreakglass: db is required")
	}
	name := cfg.Table
	if name == "" {
		name = DefaultTable
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return nil, errors.New("pgbreakglass: Config.Table has more than one dot")
	}
	for _, p := range parts {
		if !pgident.Valid(p, maxPart) {
			return nil, fmt.Errorf("pgbreakglass: Config.Table part %q is not a lowercase identifier of at most 48 characters", p)
		}
	}
	s := &Store{db: db, table: pgx.Identifier(parts).Sanitize(), lock: "pgbreakglass:" + name, base: parts[len(parts)-1]}
	t := s.table
	s.qInsert = `INSERT INTO ` + t + ` (` + columns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`
	s.qGet = `SELECT ` + columns + ` FROM ` + t + ` WHERE id = $1`
	s.qActive = `SELECT ` + columns + ` FROM ` + t + ` WHERE actor = $1 AND patient = $2 AND closed_at IS NULL AND expires_at > $3 ORDER BY expires_at DESC, id COLLATE "C" LIMIT 1`
	s.qClose = `UPDATE ` + t + ` SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL`
	s.qExists = `SELECT EXISTS (SELECT 1 FROM ` + t + ` WHERE id = $1)`
	s.qExpired = `SELECT ` + columns + ` FROM ` + t + ` WHERE closed_at IS NULL AND expires_at <= $1 ORDER BY opened_at, id COLLATE "C"`
	s.qPending = `SELECT ` + columns + ` FROM ` + t + ` WHERE reviewed_at IS NULL ORDER BY opened_at, id COLLATE "C"`
	s.qReview = `UPDATE ` + t + ` SET reviewed_at = $2, reviewer = $3, review_note = $4 WHERE id = $1 AND reviewed_at IS NULL`
	return s, nil
}

const columns = `id, actor, actor_ref, patient, reason, justification, opened_at, expires_at, closed_at, reviewed_at, reviewer, review_note`

// maxPart is the longest schema or table name, in bytes: it leaves room for the
// index-name suffixes under PostgreSQL's 63 (pgident.MaxLen).
const maxPart = 48

// CreateSchema creates the table and its indexes unless they exist. It is safe to run
// from several replicas at once (an advisory lock serialises them) and to run again.
// The connection's role needs CREATE on the schema; the role the service runs as needs
// only SELECT, INSERT and UPDATE on the table.
func (s *Store) CreateSchema(ctx context.Context) error {
	ix := func(suffix string) string { return pgx.Identifier{s.base + suffix}.Sanitize() }
	// One simple-protocol query: PostgreSQL runs it as one transaction, holding the lock
	// to the end.
	ddl := `SELECT pg_advisory_xact_lock(hashtext('` + s.lock + `'));
CREATE TABLE IF NOT EXISTS ` + s.table + ` (
	id            text        PRIMARY KEY,
	actor         text        NOT NULL,
	actor_ref     text        NOT NULL,
	patient       text        NOT NULL,
	reason        text        NOT NULL,
	justification text        NOT NULL,
	opened_at     timestamptz NOT NULL,
	expires_at    timestamptz NOT NULL,
	closed_at     timestamptz,
	reviewed_at   timestamptz,
	reviewer      text        NOT NULL,
	review_note   text        NOT NULL
);
CREATE INDEX IF NOT EXISTS ` + ix("_open") + ` ON ` + s.table + ` (actor, patient, expires_at DESC) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS ` + ix("_unclosed") + ` ON ` + s.table + ` (expires_at) WHERE closed_at IS NULL;
CREATE INDEX IF NOT EXISTS ` + ix("_pending") + ` ON ` + s.table + ` (opened_at, id COLLATE "C") WHERE reviewed_at IS NULL;`
	if _, err := s.db.Exec(ctx, ddl); err != nil {
		return wrap("create schema", err)
	}
	return nil
}

// Open stores g; see breakglass.Store.
func (s *Store) Open(ctx context.Context, g breakglass.Grant) error {
	if g.ID == "" {
		return errors.New("pgbreakglass: open: grant without an ID")
	}
	tag, err := s.db.Exec(ctx, s.qInsert, g.ID, g.Actor, g.ActorRef, g.Patient, g.Reason, g.Justification,
		g.OpenedAt, g.ExpiresAt, nullTime(g.ClosedAt), nullTime(g.ReviewedAt), g.Reviewer, g.ReviewNote)
	if err != nil {
		return wrap("open", err)
	}
	if tag.RowsAffected() == 0 {
		return breakglass.ErrGrantExists
	}
	return nil
}

// Get returns the grant with this ID; see breakglass.Store.
func (s *Store) Get(ctx context.Context, id string) (breakglass.Grant, bool, error) {
	return s.one(ctx, "get", s.qGet, id)
}

// Active returns the active grant of actor for patient at now; see breakglass.Store. It
// is one indexed query.
func (s *Store) Active(ctx context.Context, actor, patient string, now time.Time) (breakglass.Grant, bool, error) {
	return s.one(ctx, "active", s.qActive, actor, patient, now)
}

// Close closes the grant; see breakglass.Store.
func (s *Store) Close(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		return errors.New("pgbreakglass: close: zero closing time")
	}
	return s.update(ctx, "close", s.qClose, breakglass.ErrAlreadyClosed, id, at)
}

// Expired returns the unclosed grants expired at now; see breakglass.Store.
func (s *Store) Expired(ctx context.Context, now time.Time) ([]breakglass.Grant, error) {
	return s.many(ctx, "expired", s.qExpired, now)
}

// PendingReview returns the grants not yet reviewed; see breakglass.Store.
func (s *Store) PendingReview(ctx context.Context) ([]breakglass.Grant, error) {
	return s.many(ctx, "pending review", s.qPending)
}

// Review records a review of the grant; see breakglass.Store.
func (s *Store) Review(ctx context.Context, id, reviewer, note string, at time.Time) error {
	if at.IsZero() {
		return errors.New("pgbreakglass: review: zero review time")
	}
	return s.update(ctx, "review", s.qReview, breakglass.ErrAlreadyReviewed, id, at, reviewer, note)
}

// update runs a conditional UPDATE of the grant args[0]; when it changes no row, it tells
// an unknown grant (ErrGrantNotFound) from one whose state refused it (done).
func (s *Store) update(ctx context.Context, op, q string, done error, args ...any) error {
	tag, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var exists bool
	if err := s.db.QueryRow(ctx, s.qExists, args[0]).Scan(&exists); err != nil {
		return wrap(op, err)
	}
	if !exists {
		return breakglass.ErrGrantNotFound
	}
	return done
}

func (s *Store) one(ctx context.Context, op, q string, args ...any) (breakglass.Grant, bool, error) {
	g, err := scan(s.db.QueryRow(ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return breakglass.Grant{}, false, nil
	}
	if err != nil {
		return breakglass.Grant{}, false, wrap(op, err)
	}
	return g, true, nil
}

func (s *Store) many(ctx context.Context, op, q string, args ...any) ([]breakglass.Grant, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	gs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (breakglass.Grant, error) { return scan(r) })
	if err != nil {
		return nil, wrap(op, err)
	}
	return gs, nil
}

func scan(r pgx.Row) (breakglass.Grant, error) {
	var g breakglass.Grant
	var closed, reviewed *time.Time
	err := r.Scan(&g.ID, &g.Actor, &g.ActorRef, &g.Patient, &g.Reason, &g.Justification,
		&g.OpenedAt, &g.ExpiresAt, &closed, &reviewed, &g.Reviewer, &g.ReviewNote)
	if err != nil {
		return breakglass.Grant{}, err
	}
	g.OpenedAt, g.ExpiresAt = g.OpenedAt.UTC(), g.ExpiresAt.UTC()
	if closed != nil {
		g.ClosedAt = closed.UTC()
	}
	if reviewed != nil {
		g.ReviewedAt = reviewed.UTC()
	}
	return g, nil
}

// nullTime is SQL NULL for the zero time.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// wrap returns err of op wrapped with breakglass.ErrStore. PostgreSQL's messages name
// constraints and types, never the values of a row.
func wrap(op string, err error) error {
	return fmt.Errorf("pgbreakglass: %s: %w: %w", op, breakglass.ErrStore, err)
}
