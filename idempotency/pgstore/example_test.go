package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/idempotency/pgstore"
)

// A replica opens the store at startup, creates its table unless it exists, and sweeps
// dead records now and then.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("IDEMPOTENCY_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgstore.New(pgstore.Config{Pool: pool, Table: "phi.idempotency"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateSchema(ctx); err != nil {
		log.Fatal(err)
	}
	// idempotency.Config{Store: store, ...}

	// The sweep, with a minute's margin for the replicas' clocks.
	n, err := store.DeleteExpired(ctx, time.Now().Add(-time.Minute))
	if err != nil {
		log.Print("idempotency sweep failed")
	}
	_ = n
}

// New refuses a table name that is not a lower-case identifier, before any SQL runs.
func ExampleNew() {
	pool := &pgxpool.Pool{} // a pool from pgxpool.New
	_, err := pgstore.New(pgstore.Config{Pool: pool, Table: "Idempotency; DROP TABLE patients"})
	fmt.Println(errors.Is(err, pgstore.ErrInvalidConfig))
	// Output: true
}
