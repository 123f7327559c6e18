// Package pgconsent keeps patient consent rules (consent.Store and consent.Admin) in a
// PostgreSQL table, so that a consent recorded or withdrawn through one replica applies
// on the next request of every replica.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("CONSENT_DATABASE_URL")) // the primary
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	store, err := pgconsent.New(ctx, pool, pgconsent.Config{}) // table phikit_consent_rules
//	if err != nil {
//		return err
//	}
//	if err := store.CreateSchema(ctx); err != nil { // or run its statements as a migration
//		return err
//	}
//	// Per request, with the caller's deadline:
//	ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
//	defer cancel()
//	d, reasons, err := store.Decide(ctx, q)
//	if err != nil || d == consent.Deny {
//		// refuse; record reasons (the deciding rule ids) in the audit event
//	}
//
// Every call is one statement on the pool, with parameters for every value: Decide is
// one SELECT (one round trip once the connection has prepared it) that finds the
// patient's active rules through a partial index on patient and returns only the
// deciding decision and rule ids; Put is INSERT … ON CONFLICT (id) DO UPDATE, which
// leaves a revoked rule untouched; Revoke is UPDATE … SET revoked = $2 WHERE id = $1
// AND revoked IS NULL, which also reports whether the rule exists. The only text put
// into SQL is Config.Table, checked by New to be a lower-case identifier and quoted.
// Stores on the same database with the same Table share their rules. The conformance
// suite consenttest runs against this package on a real PostgreSQL.
//
// # Security considerations
//
// No cache: revocation is immediate. Decide reads the table on every call and the
// package keeps no answer, so a Revoke that has returned applies to the next Decide of
// every replica. Point the pool at the primary (or a synchronous standby): an
// asynchronous read replica may not have the revocation yet, and would go on permitting.
// A rule is revoked whether or not its revoked time has passed, so the replicas' clocks
// do not matter.
//
// Fail closed. When the database cannot answer (down, unreachable, slower than the
// context allows, the pool closed, the table missing) every method returns an error
// wrapping ErrDatabase, and Decide answers consent.Deny: the caller refuses. Consent is
// therefore an availability dependency: bound each Decide with a context deadline, give
// the database a standby and failover, and size the pool (pgxpool's MaxConns) for the
// request rate, since a request waiting for a connection waits within its deadline.
//
// Deny overrides. The statement groups the rules that apply by decision and returns
// the Deny group when there is one: a permit never hides a deny. The ids are sorted in
// Go, in byte order, whatever the database's collation.
//
// Consent data is PHI. The table holds patient ids and who may or may not see their
// data: restrict it to the service's role (SELECT, INSERT, UPDATE; no DELETE, so the
// record of a withdrawal stays), encrypt the connection (sslmode=verify-full) and the
// backups, and audit who changes it. Errors of this package name the operation, never a
// patient id, an actor or a rule's values, and the server's messages they wrap name
// tables and constraints, not parameters.
package pgconsent
