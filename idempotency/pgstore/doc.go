// Package pgstore keeps idempotency records in a PostgreSQL table, so that a retried
// request is recognized by every replica, and a record survives a restart and a
// failover to a synchronous standby.
//
// Wiring:
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // the primary; sslmode=verify-full
//	if err != nil {
//		return err
//	}
//	defer pool.Close()
//	store, err := pgstore.New(pgstore.Config{Pool: pool}) // table phikit_idempotency
//	if err != nil {
//		return err
//	}
//	if err := store.CreateSchema(ctx); err != nil { // or run its statements as a migration
//		return err
//	}
//	// Hand store to the idempotency middleware's Config.Store, and collect garbage
//	// until ctx ends (a minute's margin for the replicas' clocks):
//	go func() {
//		tick := time.NewTicker(5 * time.Minute)
//		defer tick.Stop()
//		for {
//			select {
//			case <-ctx.Done():
//				return
//			case <-tick.C:
//				if _, err := store.DeleteExpired(ctx, time.Now().Add(-time.Minute)); err != nil {
//					logger.Warn("idempotency sweep failed") // the next tick tries again
//				}
//			}
//		}
//	}()
//
// Claim, Complete and Release are one statement each, with parameters for every value:
// one round trip to claim a key and one to complete it, once the connection has
// prepared the statements. Claim is INSERT … ON CONFLICT (key) DO UPDATE … WHERE the
// record is dead, with the live record read in the same statement when the key is
// taken: ON CONFLICT locks the row, so of any number of concurrent Claims of one key
// one acquires it. A Claim that races a concurrent Claim of the same key inserted after
// its statement began finds the row but cannot read it in its snapshot; it runs the
// statement again (twice at most in practice, five times at the very most). Complete
// and Release are an UPDATE and a DELETE that match the token, an in-progress record
// and a lease that is live at now; no row matched is idempotency.ErrLeaseLost.
//
// Time comes from the caller (the middleware's Config.Now), never from the database
// server: the table keeps the end of each record's life in Unix nanoseconds of the
// callers' clocks (years 1678 to 2262), and compares it with the now it is given.
// Dead records are replaced by the next Claim of their key; DeleteExpired removes the
// others. The only text put into SQL is Config.Table, checked by New to be a lower-case
// identifier and quoted. It needs PostgreSQL 9.5 or later (tested on 15), at the READ
// COMMITTED isolation level it assumes (a stricter default only costs retries).
//
// # Security considerations
//
// Stored responses are PHI. The middleware seals them (an AEAD, with the record's key
// as additional data) before calling Complete, and this package stores the sealed bytes
// as given; it never sees a plaintext response. Still, the table says which principals
// made which requests when: restrict it to the service's role (SELECT, INSERT, UPDATE,
// DELETE on this table only), encrypt the connection (sslmode=verify-full: records and
// tokens cross the network) and the backups, and keep the sweep running so records do
// not outlive their keep time by much. Anyone who can write to the table can delete a
// record or a lease and so let a request run twice (a sealed response copied to another
// key does not open: it is sealed with its own key).
//
// Keys: the middleware passes keys that are already scoped by principal, method and
// route and hashed, so neither the Idempotency-Key a client chose nor a principal is
// stored in clear; this package stores the key's bytes as given (bytea). A Store used
// directly must be given hashed keys too. Stores on the same database with the same
// Table share their records.
//
// Failures fail closed: when the database cannot answer (down, unreachable, slower
// than the context allows, the pool closed, the table missing) every method returns an
// error wrapping ErrDatabase, and the middleware refuses the request rather than run it
// unprotected. Bound requests with a context deadline and size the pool (pgxpool's
// MaxConns) for the request rate. Point the pool at the primary: a Claim on a read
// replica fails, and a record acknowledged by a primary that fails before an
// asynchronous standby has it is lost, so a retry of that request may run again.
// Errors name the operation and wrap the server's error, which names tables and
// constraints, never a key, token, fingerprint or response.
package pgstore
