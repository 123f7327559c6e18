package pgconsent_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/authz/consent"
	"github.com/phikit/phikit/authz/consent/pgconsent"
)

// A replica opens the consent store at startup and asks it on every request; a
// withdrawal recorded by any replica applies to the next request of all of them.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("CONSENT_DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgconsent.New(ctx, pool, pgconsent.Config{Table: "phi.consent_rules"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateSchema(ctx); err != nil {
		log.Fatal(err)
	}

	// The patient refuses research.
	if err := store.Put(ctx, consent.Rule{ID: "consent-17#2", Patient: "pat-3", Purpose: "HRESCH", Decision: consent.Deny}); err != nil {
		log.Fatal(err)
	}

	// A request, bounded by its deadline.
	reqCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	d, reasons, err := store.Decide(reqCtx, consent.Query{
		Patient:  "pat-3",
		Actor:    "Practitioner/prac-1",
		Purpose:  "HRESCH",
		Category: "Observation",
	})
	if err != nil || d == consent.Deny {
		log.Printf("refused: %v %v", d, reasons)
	}
}
