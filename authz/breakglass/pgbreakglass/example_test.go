package pgbreakglass_test

import (
	"context"
	"log"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phikit/phikit/audit"
	"github.com/phikit/phikit/authz/breakglass"
	"github.com/phikit/phikit/authz/breakglass/pgbreakglass"
)

// Grants in PostgreSQL, shared by every replica. (Not run: it needs a database.)
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	store, err := pgbreakglass.New(pool, pgbreakglass.Config{Table: "phi.breakglass_grants"})
	if err != nil {
		log.Fatal(err)
	}
	if err := store.CreateSchema(ctx); err != nil {
		log.Fatal(err)
	}
	bg, err := breakglass.New(breakglass.Config{
		Store:         store,
		EntitledRoles: []string{"emergency"},
		Audit:         audit.NewJSONLines(os.Stderr), // the service's audit trail
		Alert: func(ctx context.Context, g breakglass.Grant) {
			select { // never block the clinician's request
			case pager <- g.ID:
			default:
				log.Printf("pager queue full: grant %s awaits review only", g.ID)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = bg
}

// pager is the queue a paging worker drains.
var pager = make(chan string, 100)
