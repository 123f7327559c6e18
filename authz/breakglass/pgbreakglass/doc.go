// Package pgbreakglass keeps break-glass grants (breakglass.Store) in PostgreSQL, so that
// a grant opened through one replica covers its actor on all of them, and closing or
// sweeping it on one ends it everywhere.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	if err != nil {
//		return err
//	}
//	store, err := pgbreakglass.New(pool, pgbreakglass.Config{}) // table phikit_breakglass_grants
//	if err != nil {
//		return err
//	}
//	if err := store.CreateSchema(ctx); err != nil { // idempotent; or run it from a migration
//		return err
//	}
//	bg, err := breakglass.New(breakglass.Config{Store: store, …})
//
// Every method is one statement (Close and Review add a second only when the first
// changed nothing, to tell an unknown grant from a closed or reviewed one). Active, the
// per-request check, is an index lookup on (actor, patient, expires_at) over the grants
// not yet closed. Times are stored as timestamptz, to the microsecond (pgx truncates
// the nanoseconds), and read back in UTC. The conformance suite breakglasstest runs
// against this package on a real PostgreSQL.
//
// # Security considerations
//
// Fail closed. Every failure of the database (unreachable, timed out, the context done,
// the table missing) returns an error wrapping breakglass.ErrStore, which BreakGlass
// turns into a refusal. Set timeouts on the pool's connections (connect_timeout,
// statement_timeout) or pass contexts with deadlines: while the database does not
// answer, neither does the check. Read from the primary: a lagging replica does not yet
// know a grant was closed.
//
// Exactly once. Close is a conditional UPDATE (… WHERE closed_at IS NULL): of replicas
// closing or sweeping one grant at once, exactly one succeeds and writes the 110138
// event. This holds under PostgreSQL's default READ COMMITTED isolation and above.
//
// The table holds patient ids and free-text justifications that may describe a patient's
// condition: treat it as clinical data (encryption at rest, backups, access). The
// service's role needs SELECT, INSERT and UPDATE on it, not DELETE: grants are never
// deleted by this package, and a role that cannot delete cannot erase the trail; archive
// reviewed rows under your retention policy with another role. Table names are checked
// (lowercase identifiers only) and quoted; values always travel as query parameters.
// Error messages carry PostgreSQL's message, not the row's values.
package pgbreakglass
