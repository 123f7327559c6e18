package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/idempotency"
	"github.com/phikit/phikit/internal/pgident"
)

// DefaultTable is the table of a Config whose Table is empty.
const DefaultTable = "phikit_idempotency"

// indexSuffix names the table's index: TABLE_until_idx.
const indexSuffix = "_until_idx"

// claimAttempts bounds the statements one Claim runs. A second is needed only when a
// concurrent Claim inserted the key after the first statement's snapshot was taken.
const claimAttempts = 5

// sweepBatch is the number of records one statement of DeleteExpired deletes at most.
const sweepBatch = 1000

var (
	// ErrInvalidConfig is wrapped by the errors of New for a config it refuses.
	ErrInvalidConfig = errors.New("pgstore: invalid config")
	// ErrDatabase is a database request that failed or whose answer could not be used:
	// the database is unreachable or too slow for the context, the pool is closed, the
	// table is missing or holds what this package did not write. Errors of Store wrap
	// it and the underlying error (and ctx's error when ctx is done), never a key,
	// token, fingerprint or response.
	ErrDatabase = errors.New("pgstore: database request failed")
)

// Config configures a Store. Pool is required.
type Config struct {
	// Pool is the connection pool, on the primary. Required. The Store never closes it.
	Pool *pgxpool.Pool
	// Table holds the records: a lower-case SQL identifier ([a-z_][a-z0-9_]*),
	// optionally qualified by a schema ("phi.idempotency"), the table's name at most 53
	// bytes so that its index's name fits. Empty means DefaultTable, in the connection's
	// search_path. Stores on the same database with the same Table share their records.
	Table string
}

// Store is an idempotency.Store in a PostgreSQL table, shared by every replica that uses
// the same database and table. Claim, Complete and Release are one statement each, one
// round trip once the connection has prepared it. Build it with New. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool

	lockKey  string // the advisory lock key of CreateSchema
	schema   string
	claim    string
	complete string
	release  string
	sweep    string
}

var _ idempotency.Store = (*Store)(nil)

// New checks cfg and returns a Store. It does not contact the database and neither
// creates nor checks the table: call CreateSchema, or create the table with your
// migrations (CreateSchema's documentation has the statements).
func New(cfg Config) (*Store, error) {
	if cfg.Pool == nil {
		return nil, fmt.Errorf("pgstore: Config.Pool is required: %w", ErrInvalidConfig)
	}
	table := cfg.Table
	if table == "" {
		table = DefaultTable
	}
	tab, err := pgident.ParseTable(table, indexSuffix)
	if err != nil {
		return nil, fmt.Errorf("pgstore: Config.Table: %v: %w", err, ErrInvalidConfig)
	}
	t, name := tab.Quoted(), tab.Name
	return &Store{
		pool:    cfg.Pool,
		lockKey: "phikit/idempotency/pgstore " + table,
		schema: `CREATE TABLE IF NOT EXISTS ` + t + ` (
	key         bytea PRIMARY KEY,
	token       bytea NOT NULL,
	fingerprint bytea NOT NULL,
	completed   boolean NOT NULL,
	until_ns    bigint NOT NULL,
	response    bytea
);
CREATE INDEX IF NOT EXISTS "` + name + indexSuffix + `" ON ` + t + ` (until_ns)`,
		// One statement: claimed takes the key when it has no record or a dead one
		// (ON CONFLICT DO UPDATE locks the row's latest version, even one the
		// statement's snapshot does not see, and updates it only when dead). When it
		// did not, cur reads the live record it found: FOR SHARE returns the row's
		// latest version, which claimed has locked, rather than the snapshot's. A row
		// inserted after the snapshot is not found at all: no row comes back, and
		// Claim runs the statement again.
		claim: `WITH claimed AS (
	INSERT INTO ` + t + ` AS r (key, token, fingerprint, completed, until_ns, response)
	VALUES ($1, $2, $3, false, $5, NULL)
	ON CONFLICT (key) DO UPDATE SET token = EXCLUDED.token, fingerprint = EXCLUDED.fingerprint,
		completed = false, until_ns = EXCLUDED.until_ns, response = NULL
	WHERE r.until_ns <= $4
	RETURNING 1
), cur AS (
	SELECT fingerprint, completed, response, until_ns FROM ` + t + `
	WHERE key = $1 AND NOT EXISTS (SELECT FROM claimed)
	FOR SHARE
)
SELECT true, NULL::bytea, false, NULL::bytea, 0::bigint FROM claimed
UNION ALL
SELECT false, fingerprint, completed, response, until_ns FROM cur`,
		complete: `UPDATE ` + t + ` SET completed = true, response = $3, until_ns = $5
WHERE key = $1 AND token = $2 AND NOT completed AND until_ns > $4`,
		release: `DELETE FROM ` + t + `
WHERE key = $1 AND token = $2 AND NOT completed AND until_ns > $3`,
		sweep: `DELETE FROM ` + t + ` WHERE key IN (
	SELECT key FROM ` + t + ` WHERE until_ns <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED
) AND until_ns <= $1`,
	}, nil
}

// CreateSchema creates the table and its index unless they exist, in one transaction
// that holds an advisory lock, so that replicas starting together may all call it. It
// runs, with TABLE the quoted Config.Table and NAME its name without the schema:
//
//	CREATE TABLE IF NOT EXISTS TABLE (
//		key         bytea PRIMARY KEY,
//		token       bytea NOT NULL,
//		fingerprint bytea NOT NULL,
//		completed   boolean NOT NULL,
//		until_ns    bigint NOT NULL,
//		response    bytea
//	);
//	CREATE INDEX IF NOT EXISTS "NAME_until_idx" ON TABLE (until_ns);
//
// until_ns is the end of the record's life in Unix nanoseconds (of the callers'
// clocks): the lease's end while in progress, the keep time once completed. response
// is NULL in progress and for a response that was not replayable. CreateSchema never
// alters an existing table: a table of the same name but another shape makes the
// other methods fail with ErrDatabase.
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

// Claim implements idempotency.Store in one statement (INSERT … ON CONFLICT (key) DO
// UPDATE … WHERE the record is dead, and the live record read in the same statement);
// it runs it again, up to a few times, only when a concurrent Claim of the same key
// committed while it ran. lease must be positive.
func (s *Store) Claim(ctx context.Context, key, token string, fingerprint []byte, now time.Time, lease time.Duration) (idempotency.Claim, error) {
	if lease <= 0 {
		return idempotency.Claim{}, errors.New("pgstore: claim: lease must be positive")
	}
	if fingerprint == nil {
		fingerprint = []byte{} // NOT NULL
	}
	n, until := nanos(now), nanos(now.Add(lease))
	for range claimAttempts {
		if err := ctx.Err(); err != nil {
			return idempotency.Claim{}, fail(ctx, "claim", err)
		}
		var (
			c       idempotency.Claim
			untilNs int64
		)
		err := s.pool.QueryRow(ctx, s.claim, []byte(key), []byte(token), fingerprint, n, until).
			Scan(&c.Acquired, &c.Fingerprint, &c.Completed, &c.Response, &untilNs)
		switch {
		case errors.Is(err, pgx.ErrNoRows) || isSerializationFailure(err):
			continue // a concurrent Claim: look again
		case err != nil:
			return idempotency.Claim{}, fail(ctx, "claim", err)
		case c.Acquired:
			return idempotency.Claim{Acquired: true}, nil
		case untilNs <= n:
			continue // cannot happen: the record is locked and was live
		}
		if c.Fingerprint == nil {
			c.Fingerprint = []byte{}
		}
		if !c.Completed {
			c.LeaseExpires = time.Unix(0, untilNs).UTC()
			c.Response = nil
		}
		return c, nil
	}
	return idempotency.Claim{}, fail(ctx, "claim", errors.New("the key changed hands on every attempt"))
}

// isSerializationFailure reports a serialization failure (SQLSTATE 40001), which a
// pool whose default isolation is REPEATABLE READ or SERIALIZABLE answers where READ
// COMMITTED finds the row inserted concurrently.
func isSerializationFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "40001"
}

// Complete implements idempotency.Store in one statement: UPDATE … WHERE key = $1 AND
// token = $2 AND NOT completed AND until_ns > now, storing response (nil: NULL, not
// replayable) kept until now+ttl. When no row matches it returns
// idempotency.ErrLeaseLost. ttl must be positive.
func (s *Store) Complete(ctx context.Context, key, token string, response []byte, now time.Time, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("pgstore: complete: ttl must be positive")
	}
	if err := ctx.Err(); err != nil {
		return fail(ctx, "complete", err)
	}
	tag, err := s.pool.Exec(ctx, s.complete, []byte(key), []byte(token), response, nanos(now), nanos(now.Add(ttl)))
	if err != nil {
		return fail(ctx, "complete", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: complete: %w", idempotency.ErrLeaseLost)
	}
	return nil
}

// Release implements idempotency.Store in one statement: DELETE … WHERE key = $1 AND
// token = $2 AND NOT completed AND until_ns > now. When no row matches it returns
// idempotency.ErrLeaseLost.
func (s *Store) Release(ctx context.Context, key, token string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fail(ctx, "release", err)
	}
	tag, err := s.pool.Exec(ctx, s.release, []byte(key), []byte(token), nanos(now))
	if err != nil {
		return fail(ctx, "release", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: release: %w", idempotency.ErrLeaseLost)
	}
	return nil
}

// DeleteExpired deletes the records that are dead at now (leases and keep times that
// ended at or before it) and returns how many it deleted. Dead records take space but
// do no harm, as Claim replaces a dead record of its key, so DeleteExpired is only
// garbage collection: run it now and then (every few minutes) from one replica or a
// job. It deletes in batches of 1000 rows, one statement each, skipping rows that
// other transactions hold, until a batch comes back short or ctx is done; on an error
// it returns the count so far with the error.
//
// Pass now minus the largest clock offset between the replicas (a minute, say): a
// record is live until the now of the replica that claimed it passes its end.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, fail(ctx, "delete expired", err)
		}
		tag, err := s.pool.Exec(ctx, s.sweep, nanos(now), sweepBatch)
		if err != nil {
			return total, fail(ctx, "delete expired", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < sweepBatch {
			return total, nil
		}
	}
}

// nanos is t in Unix nanoseconds, clamped to the int64 range (years 1678 to 2262).
func nanos(t time.Time) int64 {
	switch s := t.Unix(); {
	case s <= math.MinInt64/int64(time.Second):
		return math.MinInt64
	case s >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// fail wraps err from op in ErrDatabase, and in ctx's error when ctx is done, so that
// callers can tell a deadline from a database failure with errors.Is.
func fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("pgstore: %s: %w: %w: %w", op, ErrDatabase, cerr, err)
	}
	return fmt.Errorf("pgstore: %s: %w: %w", op, ErrDatabase, err)
}
